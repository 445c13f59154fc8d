/// Shapes the store's counts and the active catalog into the statistics tables (docs/statistics.md).
/// Pure: the same data gives the same report.
public enum StatisticsAssembler {
    public static func report(
        data: StatisticsData, catalog: Catalog, window: StatisticsWindow,
        generatedAt: Millis
    ) -> StatisticsReport {
        StatisticsReport(
            generatedAt: generatedAt, window: window, catalogVersion: catalog.version,
            sections: [
                requests(data), commitments(data), requesters(data), complaints(data), exemptions(catalog),
                cancellations(catalog), totals(catalog),
            ])
    }

    /// Per owning department and certificate type.
    static func requests(_ data: StatisticsData) -> StatisticsSection {
        struct Key: Hashable, Comparable {
            var owner: String
            var type: String
            static func < (a: Key, b: Key) -> Bool { (a.owner, a.type) < (b.owner, b.type) }
        }
        var counts: [Key: [String: Int]] = [:]
        for row in data.requests {
            let key = Key(owner: row.owner, type: row.certificateType)
            var bucket = counts[key, default: [:]]
            bucket["requests", default: 0] += row.count
            bucket[row.method.rawValue, default: 0] += row.count
            bucket[row.outcome?.rawValue ?? "pending", default: 0] += row.count
            counts[key] = bucket
        }
        var times: [Key: [Millis]] = [:]
        for row in data.answerTimes { times[Key(owner: row.owner, type: row.certificateType)] = row.millis }
        var deadlines: [Key: StatisticsData.Deadlines] = [:]
        for row in data.deadlines { deadlines[Key(owner: row.owner, type: row.certificateType)] = row }

        let keys = Set(counts.keys).union(times.keys).union(deadlines.keys).sorted()
        let rows = keys.map { key -> [StatisticsCell] in
            let bucket = counts[key] ?? [:]
            let answered = times[key] ?? []
            func count(_ name: String) -> StatisticsCell { .integer(Int64(bucket[name] ?? 0)) }
            func time(_ p: Double) -> StatisticsCell { Percentile.nearestRank(answered, p).map { .integer($0) } ?? .empty }
            return [
                .text(key.owner), .text(key.type), count("requests"),
                count(VerificationMethod.dataSharing.rawValue), count(VerificationMethod.departmentVerification.rawValue),
                count(Outcome.confirmed.rawValue), count(Outcome.denied.rawValue), count(Outcome.cannotDetermine.rawValue),
                count("pending"), .integer(Int64(answered.count)), time(0.5), time(0.9),
                .integer(Int64(deadlines[key]?.overdue ?? 0)), .integer(Int64(deadlines[key]?.answeredAfterDue ?? 0)),
                .integer(Int64(deadlines[key]?.dueBeyondCalendar ?? 0)),
            ]
        }
        return StatisticsSection(
            name: "requests", title: "核验请求（按出证部门和证明事项）",
            columns: [
                "department", "certificateType", "requests", "dataSharing", "departmentVerification", "confirmed",
                "denied", "cannotDetermine", "pending", "answered", "medianAnswerMs", "p90AnswerMs", "overdue",
                "answeredAfterDue", "dueBeyondCalendar",
            ],
            rows: rows)
    }

    /// Per requesting department.
    static func requesters(_ data: StatisticsData) -> StatisticsSection {
        var counts: [String: [String: Int]] = [:]
        for row in data.requests {
            counts[row.requester, default: [:]]["requests", default: 0] += row.count
            counts[row.requester, default: [:]][row.outcome?.rawValue ?? "pending", default: 0] += row.count
        }
        let rows = counts.keys.sorted().map { department -> [StatisticsCell] in
            let bucket = counts[department] ?? [:]
            return [.text(department)]
                + ["requests", Outcome.confirmed.rawValue, Outcome.denied.rawValue, Outcome.cannotDetermine.rawValue, "pending"]
                .map { .integer(Int64(bucket[$0] ?? 0)) }
        }
        return StatisticsSection(
            name: "requesters", title: "核验请求（按用证部门）",
            columns: ["department", "requests", "confirmed", "denied", "cannotDetermine", "pending"], rows: rows)
    }

    /// Per department complained about.
    static func complaints(_ data: StatisticsData) -> StatisticsSection {
        var counts: [String: [String: Int]] = [:]
        for row in data.complaints {
            counts[row.againstDepartment, default: [:]]["filed", default: 0] += row.count
            counts[row.againstDepartment, default: [:]][row.status.rawValue, default: 0] += row.count
            counts[row.againstDepartment, default: [:]][row.standing.rawValue, default: 0] += row.count
        }
        let rows = counts.keys.sorted().map { department -> [StatisticsCell] in
            let bucket = counts[department] ?? [:]
            return [.text(department)] + ["filed", "open", "handled", "cancelled", "listed", "unlisted"]
                .map { .integer(Int64(bucket[$0] ?? 0)) }
        }
        return StatisticsSection(
            name: "complaints", title: "监督投诉（按被投诉部门）",
            columns: ["department", "filed", "open", "handled", "aboutCancelled", "aboutListed", "aboutUnlisted"],
            rows: rows)
    }

    /// The Ordos plan's annex 2: one row per (requesting department, matter, certificate); a
    /// cancelled item, which nobody may ask for, is one row under its former owner.
    static func exemptions(_ catalog: Catalog) -> StatisticsSection {
        var rows: [[StatisticsCell]] = []
        var entries: [(department: String, matter: String, item: CertificateType)] = []
        for item in catalog.items {
            if item.method == .cancelled {
                entries.append((item.owner ?? "", "", item))
            }
            for grant in item.requesters {
                for matter in grant.matterCodes { entries.append((grant.department, matter, item)) }
            }
        }
        entries.sort { ($0.department, $0.matter, $0.item.code) < ($1.department, $1.matter, $1.item.code) }
        for (index, entry) in entries.enumerated() {
            let method = ExemptionMethod.of(entry.item)
            rows.append([
                .integer(Int64(index + 1)), .text(entry.department), .text(entry.matter), .text(entry.item.code),
                .text(entry.item.name.zh), .text(method.rawValue), .text(method.chineseLabel),
            ])
        }
        return StatisticsSection(
            name: "exemptions", title: "证明材料免提交清单（部门、事项、证明材料、免提交方式）",
            columns: ["no", "department", "matterCode", "certificateType", "certificateName", "method", "methodZh"],
            rows: rows)
    }

    /// Cancelled items by reason.
    static func cancellations(_ catalog: Catalog) -> StatisticsSection {
        var counts: [String: Int] = [:]
        for item in catalog.items where item.method == .cancelled {
            counts[item.cancellation?.reason ?? "", default: 0] += 1
        }
        return StatisticsSection(
            name: "cancellations", title: "已取消证明事项（按取消理由）", columns: ["reason", "items"],
            rows: counts.keys.sorted().map { [.text($0), .integer(Int64(counts[$0] ?? 0))] })
    }

    /// Suzhou-report totals: items by method, and the shares removed.
    static func totals(_ catalog: Catalog) -> StatisticsSection {
        let total = catalog.items.count
        func count(_ method: VerificationMethod) -> Int { catalog.items.filter { $0.method == method }.count }
        let cancelled = count(.cancelled)
        // Every method heyan knows spares the applicant the paper; the share is kept so that a
        // catalog which one day lists items still demanded on paper is reported honestly.
        let paperFree = catalog.items.filter { VerificationMethod.allCases.contains($0.method) }.count
        func share(_ part: Int) -> StatisticsCell { total == 0 ? .empty : .number(Double(part) / Double(total)) }
        let rows: [[StatisticsCell]] = [
            [.text("items"), .integer(Int64(total))],
            [.text("dataSharing"), .integer(Int64(count(.dataSharing)))],
            [.text("departmentVerification"), .integer(Int64(count(.departmentVerification)))],
            [.text("commitment"), .integer(Int64(count(.commitment)))],
            [.text("cancelled"), .integer(Int64(cancelled))],
            [.text("cancelledShare"), share(cancelled)],
            [.text("paperFreeShare"), share(paperFree)],
        ]
        return StatisticsSection(name: "totals", title: "汇总", columns: ["metric", "value"], rows: rows)
    }
}
