import HeyanDomain

extension WriteSession {
    /// Marks every row of `table` that `selectSQL` returns (bound `?1` = `now`; column 0 the row's
    /// id) as overdue, each with the audit event `event` builds from its row. Rows are read first,
    /// then updated, so the update never runs under the open SELECT. Returns how many were marked.
    func markOverdue(
        table: StaticString, selectSQL: String, now: Millis, event: (SQLiteStatement, String) -> AuditEvent
    ) throws -> Int {
        let select = try connection.cachedStatement(selectSQL)
        try select.bind(now, at: 1)
        var marked: [(id: String, event: AuditEvent)] = []
        while try select.step() {
            let id = select.text(at: 0) ?? ""
            marked.append((id, event(select, id)))
        }
        for (id, event) in marked {
            let update = try connection.cachedStatement("UPDATE \(table) SET overdue = 1 WHERE id = ?1")
            try update.bind(id, at: 1)
            try update.run()
            try appendAudit(event, at: now)
        }
        return marked.count
    }
}
