/// The time range statistics cover: verifications, commitments and complaints created in `[from, to)`.
public struct StatisticsWindow: Sendable, Equatable {
    public var from: Millis?
    public var to: Millis?

    public init(from: Millis? = nil, to: Millis? = nil) {
        self.from = from
        self.to = to
    }
}

/// The counts the store computes with SQL, before ``StatisticsAssembler`` shapes them into
/// tables. Every list is sorted by its keys.
public struct StatisticsData: Sendable, Equatable {
    /// Verifications per (type, owner, requester, method, status, outcome).
    public struct RequestCount: Sendable, Equatable {
        public var certificateType: String
        public var owner: String
        public var requester: String
        public var method: VerificationMethod
        public var status: VerificationStatus
        public var outcome: Outcome?
        public var count: Int

        public init(
            certificateType: String, owner: String, requester: String, method: VerificationMethod,
            status: VerificationStatus, outcome: Outcome?, count: Int
        ) {
            self.certificateType = certificateType
            self.owner = owner
            self.requester = requester
            self.method = method
            self.status = status
            self.outcome = outcome
            self.count = count
        }
    }

    /// Answer times (answered_at − created_at, ms) of one (type, owner), ascending.
    public struct AnswerTimes: Sendable, Equatable {
        public var certificateType: String
        public var owner: String
        public var millis: [Millis]

        public init(certificateType: String, owner: String, millis: [Millis]) {
            self.certificateType = certificateType
            self.owner = owner
            self.millis = millis
        }
    }

    /// Queue deadlines of one (type, owner): items marked overdue, answers given after the due
    /// time, and due times counted past the working-day calendar's covered days.
    public struct Deadlines: Sendable, Equatable {
        public var certificateType: String
        public var owner: String
        public var overdue: Int
        public var answeredAfterDue: Int
        public var dueBeyondCalendar: Int

        public init(certificateType: String, owner: String, overdue: Int, answeredAfterDue: Int, dueBeyondCalendar: Int = 0) {
            self.certificateType = certificateType
            self.owner = owner
            self.overdue = overdue
            self.answeredAfterDue = answeredAfterDue
            self.dueBeyondCalendar = dueBeyondCalendar
        }
    }

    /// Complaints per (department complained about, status, catalog standing).
    public struct ComplaintCount: Sendable, Equatable {
        public var againstDepartment: String
        public var status: Complaint.Status
        public var standing: Complaint.CatalogStanding
        public var count: Int

        public init(againstDepartment: String, status: Complaint.Status, standing: Complaint.CatalogStanding, count: Int) {
            self.againstDepartment = againstDepartment
            self.status = status
            self.standing = standing
            self.count = count
        }
    }

    public var requests: [RequestCount]
    public var answerTimes: [AnswerTimes]
    public var deadlines: [Deadlines]
    public var complaints: [ComplaintCount]
    /// Commitments per (type, owner), in the window (``CommitmentCount``).
    public var commitments: [CommitmentCount] = []
    /// Commitment → spot-check answer times (checked_at − created_at, ms) of one (type, owner), ascending.
    public var checkTimes: [AnswerTimes] = []

    public init(requests: [RequestCount], answerTimes: [AnswerTimes], deadlines: [Deadlines], complaints: [ComplaintCount]) {
        self.requests = requests
        self.answerTimes = answerTimes
        self.deadlines = deadlines
        self.complaints = complaints
    }
}

/// Reads ``StatisticsData`` from the store (reader connections; never waits for the writer).
public protocol StatisticsStore: AnyObject, Sendable {
    func statisticsData(window: StatisticsWindow) throws -> StatisticsData
}
