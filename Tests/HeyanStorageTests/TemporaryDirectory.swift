import Glibc

/// A fresh directory under `/tmp` for one test, removed with its contents when released.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/heyan-storage-test-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed: errno \(errno)")
        path = String(cString: created!)
    }

    /// `name` inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    deinit { removeTree(path) }
}

/// `rm -rf path`, for test clean-up only.
private func removeTree(_ path: String) {
    if let directory = opendir(path) {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            removeTree(path + "/" + name)
        }
        closedir(directory)
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// `stat` of `path`, or `nil` when it does not exist.
func fileStatus(_ path: String) -> stat? {
    var status = stat()
    return stat(path, &status) == 0 ? status : nil
}
