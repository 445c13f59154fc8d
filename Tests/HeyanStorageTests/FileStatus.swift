import Glibc

/// `stat` of `path`, or `nil` when it does not exist.
func fileStatus(_ path: String) -> stat? {
    var status = stat()
    return stat(path, &status) == 0 ? status : nil
}
