import CSQLite
import HeyanCrypto
import HeyanDomain
import HeyanStorage
import HeyanStores
import HeyanTestSupport
import Testing

/// What the service sees of a store failure: a `store.*` code with the engine's report as cause.
@Suite struct StoreErrorTests {
    @Test func sqliteCodesMapToStoreNeutralKinds() {
        func kind(_ error: SQLiteError) -> String { StoreError(error).code }
        #expect(kind(SQLiteError(code: "sqlite.closed", resultCode: SQLITE_MISUSE, message: "the store is closed")) == "store.closed")
        #expect(kind(SQLiteError(resultCode: SQLITE_FULL, message: "database or disk is full")) == "store.unavailable")
        #expect(kind(SQLiteError(resultCode: SQLITE_BUSY, message: "database is locked")) == "store.unavailable")
        #expect(kind(SQLiteError(resultCode: SQLITE_CONSTRAINT, message: "UNIQUE constraint failed")) == "store.conflict")
        #expect(kind(SQLiteError(code: "sqlite.invalid-row", resultCode: SQLITE_CORRUPT, message: "NULL in id")) == "store.corrupt-row")
        #expect(kind(SQLiteError(code: "sqlite.schema-too-new", resultCode: SQLITE_ERROR, message: "x")) == "store.failed")
        #expect(kind(SQLiteError(resultCode: SQLITE_MISUSE, message: "x")) == "store.failed")
    }

    @Test func theCauseKeepsTheEnginesReportAndTransienceCarriesOver() {
        let full = StoreError(SQLiteError(resultCode: SQLITE_FULL, message: "database or disk is full", sql: "COMMIT"))
        #expect(full.description == "store.unavailable: sqlite.full: database or disk is full (SQLite code 13) in `COMMIT`")
        #expect(full.isTransient && (full as any Error).isTransientStoreFailure)
        #expect(StoreError(full) == full)
        let closed = StoreError(SQLiteError(code: "sqlite.closed", resultCode: SQLITE_MISUSE, message: "the store is closed"))
        #expect(closed.isTransient)
        let constraint = StoreError(SQLiteError(resultCode: SQLITE_CONSTRAINT, message: "x"))
        #expect(!constraint.isTransient && !(constraint as any Error).isTransientStoreFailure)
        struct Other: Error {}
        #expect(StoreError(Other()) == StoreError(kind: .failed, cause: "Other()"))
    }

    @Test func theFactoryOpensAnExistingStoreForInspectionOnly() throws {
        let directory = TemporaryDirectory(prefix: "heyan-factory")
        let path = directory.file("heyan.sqlite")
        let missing = try StoreConfiguration(parsing: path)
        #expect(throws: StoreError(kind: .failed, cause: "no database at \(path)")) {
            try StoreFactory.open(missing, for: .inspect, hash: Digest.sha256)
        }
        let served = try StoreFactory.open(missing, for: .serve, hash: Digest.sha256)
        #expect(served.claim != nil)
        #expect(served.store.instanceID.isEmpty == false)
        served.store.close()
        let inspected = try StoreFactory.open(missing, for: .inspect, hash: Digest.sha256)
        #expect(inspected.claim == nil)
        #expect(inspected.store.instanceID == served.store.instanceID)
        let report = try inspected.verifyAudit({ _ in }, { _ in })
        #expect(report.firstBreak == nil)
        #expect(report.entries == 0 && report.checkpoints == 0)
    }

    @Test func aQueueAnswerIDSaysWhatItNames() {
        #expect(OwnerQueueEntry(id: "qsc_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z") == .spotCheck("qsc_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"))
        #expect(OwnerQueueEntry(id: "qi_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z") == .verificationItem("qi_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"))
    }
}
