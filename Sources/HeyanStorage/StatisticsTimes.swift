import HeyanDomain

extension StatisticsData.AnswerTimes {
    /// Durations grouped by certificate type and owner, from a statement selecting
    /// `certificate_type, owner, milliseconds` ordered by the first two, with the window bound as
    /// `?1` (from, inclusive) and `?2` (to, exclusive), and `parameters` as `?3`, `?4`, ….
    static func grouped(
        _ sql: String, from: Millis, to: Millis, parameters: [SQLiteValue] = [], on db: SQLiteConnection
    ) throws -> [Self] {
        let times = try db.cachedStatement(sql)
        try times.bind(from, at: 1)
        try times.bind(to, at: 2)
        for (offset, value) in parameters.enumerated() { try times.bind(value, at: 3 + offset) }
        var groups: [Self] = []
        while try times.step() {
            let type = try times.groupKey(at: 0, table: "verifications", column: "certificate_type")
            let owner = try times.groupKey(at: 1, table: "verifications", column: "owner")
            let millis = times.int64(at: 2)
            if let last = groups.last, last.certificateType == type, last.owner == owner {
                groups[groups.count - 1].millis.append(millis)
            } else {
                groups.append(.init(certificateType: type, owner: owner, millis: [millis]))
            }
        }
        return groups
    }
}
