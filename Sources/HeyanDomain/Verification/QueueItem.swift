/// What an owner is asked to do with a queue item.
public enum QueueItemKind: String, Sendable, Codable, CaseIterable {
    /// Answer a verification (部门核验, or data sharing without a record and `fallback: queue`).
    case verification
    /// Check a commitment after the fact (事后核查; later issue).
    case spotCheck = "spot-check"
}

public enum QueueItemState: String, Sendable, Codable, CaseIterable {
    /// Waiting for a worker (also an item whose lease expired).
    case pending
    /// Held by a worker until `leaseExpiresAt`.
    case leased
    /// Answered.
    case done
}

/// One item in an owner department's queue.
public struct QueueItem: Sendable, Equatable {
    /// `qi_` + 26 characters.
    public var id: String
    public var kind: QueueItemKind
    public var verificationID: String
    public var owner: String
    public var createdAt: Millis
    public var dueAt: Millis
    public var state: QueueItemState
    /// Current lease: whoever holds this token may answer until `leaseExpiresAt`.
    public var leaseToken: String?
    public var leaseExpiresAt: Millis?
    /// How many times the item was leased (a lease that expired returns the item).
    public var leaseCount: Int
    /// Set once `dueAt` passed while the item was not done.
    public var overdue: Bool

    public init(
        id: String, kind: QueueItemKind, verificationID: String, owner: String, createdAt: Millis, dueAt: Millis,
        state: QueueItemState = .pending, leaseToken: String? = nil, leaseExpiresAt: Millis? = nil, leaseCount: Int = 0,
        overdue: Bool = false
    ) {
        self.id = id
        self.kind = kind
        self.verificationID = verificationID
        self.owner = owner
        self.createdAt = createdAt
        self.dueAt = dueAt
        self.state = state
        self.leaseToken = leaseToken
        self.leaseExpiresAt = leaseExpiresAt
        self.leaseCount = leaseCount
        self.overdue = overdue
    }
}

/// A queue item handed to a worker, with the verification it is about.
public struct LeasedItem: Sendable, Equatable {
    public var item: QueueItem
    public var verification: Verification

    public init(item: QueueItem, verification: Verification) {
        self.item = item
        self.verification = verification
    }
}
