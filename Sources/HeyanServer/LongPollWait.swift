extension ServiceContext {
    /// `wait=S` of a long poll: an integer from 0 to the API's bound (60 s, or the configured
    /// maximum when that is larger), else 400. A value above the configured `longPollMaxSeconds`
    /// waits that long instead: "up to S seconds" stays true, and a client written against the
    /// documented bound works on a server configured lower.
    func longPollWait(_ call: ServiceCall) -> Int? {
        guard let wait = queryInteger(call, "wait", default: 0, range: 0...max(60, longPollMaxSeconds)) else { return nil }
        return min(wait, longPollMaxSeconds)
    }
}
