import Foundation
import HeyanDomain
import Testing

/// The package folder, found from this file's path: `<root>/Tests/HeyanDomainTests/TestSupport.swift`.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The bytes of a file of the package, such as `config/catalog.json`.
func packageFile(_ relativePath: String) throws -> [UInt8] {
    Array(try Data(contentsOf: packageRoot.appendingPathComponent(relativePath)))
}

/// The example department directory, for catalog tests.
func exampleDepartments() throws -> DepartmentDirectory {
    try DepartmentDirectory.decode(try packageFile("config/departments.json"), file: "departments.json")
}

/// Parses a JSON text into a mutable tree, edits it and serialises it again, so that each broken
/// configuration in a table is "the example, except…".
func editedJSON(_ bytes: [UInt8], _ edit: (inout Any) throws -> Void) throws -> [UInt8] {
    var tree = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
    try edit(&tree)
    return Array(try JSONSerialization.data(withJSONObject: tree, options: [.sortedKeys]))
}

/// A JSON path into the tree used by ``editedJSON(_:_:)``: `["items", 0, "owner"]`.
enum Step: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case key(String)
    case index(Int)
    init(stringLiteral value: String) { self = .key(value) }
    init(integerLiteral value: Int) { self = .index(value) }
}

/// Sets (or with `nil`, removes) the value at `path`.
func set(_ tree: inout Any, _ path: [Step], to value: Any?) {
    guard let first = path.first else {
        if let value { tree = value }
        return
    }
    let rest = Array(path.dropFirst())
    switch first {
    case .key(let key):
        var object = tree as! [String: Any]
        if rest.isEmpty {
            object[key] = value
        } else {
            var child = object[key]!
            set(&child, rest, to: value)
            object[key] = child
        }
        tree = object
    case .index(let index):
        var array = tree as! [Any]
        if rest.isEmpty {
            if let value { array[index] = value } else { array.remove(at: index) }
        } else {
            set(&array[index], rest, to: value)
        }
        tree = array
    }
}

enum JSONEncoderForTests {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }
}
