import Foundation
import Testing

/// The JSON Schemas in `schemas/` must describe what the decoder accepts: the example files pass,
/// and every broken file whose problem a schema can see fails. Checked with Python's `jsonschema`
/// (draft 2020-12, with format assertion so that `"format": "date"` rejects 30 February).
@Suite struct JSONSchemaTests {
    /// Validates each (schema, document) pair; returns the schema errors of each document.
    static func validate(_ pairs: [(schema: String, document: [UInt8])]) throws -> [[String]] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("heyan-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var manifest: [[String: String]] = []
        for (index, pair) in pairs.enumerated() {
            let document = folder.appendingPathComponent("\(index).json")
            try Data(pair.document).write(to: document)
            manifest.append(["schema": packageRoot.appendingPathComponent(pair.schema).path, "instance": document.path])
        }
        let manifestFile = folder.appendingPathComponent("manifest.json")
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestFile)

        let script = """
            import json, sys, jsonschema
            validator_class = jsonschema.Draft202012Validator
            results = []
            for entry in json.load(open(sys.argv[1])):
                schema = json.load(open(entry["schema"], encoding="utf-8"))
                validator_class.check_schema(schema)
                validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
                try:
                    document = json.load(open(entry["instance"], encoding="utf-8"))
                except ValueError as error:
                    results.append(["not JSON: %s" % error])
                    continue
                results.append(["%s: %s" % (e.json_path, e.message) for e in validator.iter_errors(document)])
            print(json.dumps(results))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, manifestFile.path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SchemaCheckFailed(stderr: String(decoding: errorData, as: UTF8.self))
        }
        return try JSONDecoder().decode([[String]].self, from: outputData)
    }

    struct SchemaCheckFailed: Error, CustomStringConvertible {
        let stderr: String
        var description: String { "python3 jsonschema failed: \(stderr)" }
    }

    static let files: [ConfigurationFile] = [.service, .departments, .catalog]

    @Test func exampleFilesValidate() throws {
        let results = try Self.validate(try Self.files.map { ($0.schemaPath, try packageFile($0.examplePath)) })
        for (file, errors) in zip(Self.files, results) {
            #expect(errors == [], "\(file.rawValue)")
        }
        #expect(results.count == 3)
    }

    /// Schema-level mistakes fail the schema; cross-reference mistakes (unknown department,
    /// duplicate code) pass it, which is why heyan checks them itself.
    @Test func brokenFilesFailTheSchemaWhereTheSchemaCanSeeTheProblem() throws {
        let cases = BrokenConfiguration.all
        let results = try Self.validate(try cases.map { ($0.file.schemaPath, try $0.bytes()) })
        #expect(results.count == cases.count)
        for (broken, errors) in zip(cases, results) {
            if broken.schemaRejects {
                #expect(!errors.isEmpty, "the schema accepts: \(broken.testDescription)")
            } else {
                #expect(errors == [], "the schema should accept (heyan checks it): \(broken.testDescription)")
            }
        }
    }

    /// The `$schema` key of each example points at its schema, relative to the example file.
    @Test func exampleFilesPointAtTheirSchemas() throws {
        for file in Self.files {
            let object =
                try JSONSerialization.jsonObject(with: Data(try packageFile(file.examplePath))) as? [String: Any]
            let reference = try #require(object?["$schema"] as? String, "\(file.rawValue) has no $schema")
            let resolved = packageRoot.appendingPathComponent("config").appendingPathComponent(reference).standardized
            #expect(resolved.path == packageRoot.appendingPathComponent(file.schemaPath).standardized.path)
            #expect(FileManager.default.fileExists(atPath: resolved.path))
        }
    }
}
