import Testing

@testable import HeyanStorage

/// ``TableColumns/position`` reads a column's case index from its one-byte representation; these
/// tests hold it to the definition it replaces (the case's index in `allCases`) for every column type
/// the store reads or writes, so a column type that outgrows one byte, or a compiler that lays
/// enums out otherwise, fails here rather than binding values to the wrong parameters.
struct TableColumnsTests {
    static func positionsMatchAllCases<Column: TableColumns>(_: Column.Type) -> [String] {
        Column.allCases.enumerated().compactMap { index, column in
            column.position == index && column.parameter == index + 1
                ? nil : "\(Column.table).\(column.rawValue): position \(column.position), expected \(index)"
        }
    }

    @Test func everyColumnsPositionIsItsIndexInAllCases() {
        let mismatches =
            Self.positionsMatchAllCases(AuditRow.Column.self)
            + Self.positionsMatchAllCases(VerificationRow.Column.self)
            + Self.positionsMatchAllCases(QueueItemRow.Column.self)
            + Self.positionsMatchAllCases(AttestationRow.Column.self)
            + Self.positionsMatchAllCases(RecordRow.Column.self)
            + Self.positionsMatchAllCases(IdempotencyRow.Column.self)
            + Self.positionsMatchAllCases(CheckpointRow.Column.self)
            + Self.positionsMatchAllCases(CommitmentRow.Column.self)
            + Self.positionsMatchAllCases(SpotCheckRow.Column.self)
            + Self.positionsMatchAllCases(CreditEntryRow.Column.self)
            + Self.positionsMatchAllCases(CatalogVersionRow.Column.self)
            + Self.positionsMatchAllCases(ComplaintRow.Column.self)
        #expect(mismatches == [])
    }

    /// The rule the fast path relies on, on a type declared here with cases out of alphabetical and
    /// raw-value order: the byte is the declaration index.
    @Test func theByteIsTheDeclarationIndex() {
        #expect(Shuffled.allCases.map(\.position) == [0, 1, 2, 3])
        #expect(Shuffled.zeta.position == 0 && Shuffled.alpha.position == 1 && Shuffled.mid.position == 3)
        #expect(MemoryLayout<Shuffled>.size == 1)
    }

    enum Shuffled: String, TableColumns {
        case zeta = "z_col", alpha = "a_col", beta, mid = "m"
        static let table = "shuffled"
    }
}
