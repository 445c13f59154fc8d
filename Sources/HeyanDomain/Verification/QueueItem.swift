/// What an owner is asked to do with a queue item.
public enum QueueItemKind: String, Sendable, Codable, CaseIterable {
    /// Answer a verification (部门核验, or data sharing without a record and `fallback: queue`).
    case verification
    /// Check a commitment after the fact (事后核查; later issue).
    case spotCheck = "spot-check"
}

/// Where a queue item (or a spot check) stands. The lease lives in the state, so a pending item
/// cannot carry a token and a leased one cannot lack an expiry.
public enum QueueItemState: Sendable, Equatable {
    /// Waiting for a worker.
    case pending
    /// Held by the worker holding `token` until `expiresAt`; once that has passed the item waits
    /// for a worker again (``QueueTransitions/isLeasable(_:at:)``).
    case leased(token: String, expiresAt: Millis)
    /// Answered under the lease `answeredToken`: the same answer under that token again is a
    /// retry (``QueueTransitions/admit(token:at:to:)``).
    case done(answeredToken: String)

    /// The stored spelling of a state: the `state` column of `queue_items` and `spot_checks`.
    public enum Name: String, Sendable, CaseIterable {
        case pending, leased, done
    }

    public var name: Name {
        switch self {
        case .pending: .pending
        case .leased: .leased
        case .done: .done
        }
    }
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
    /// How many times the item was leased (a lease that expired returns the item).
    public var leaseCount: Int
    /// Set once `dueAt` passed while the item was not done.
    public var overdue: Bool

    public init(
        id: String, kind: QueueItemKind, verificationID: String, owner: String, createdAt: Millis, dueAt: Millis,
        state: QueueItemState = .pending, leaseCount: Int = 0, overdue: Bool = false
    ) {
        self.id = id
        self.kind = kind
        self.verificationID = verificationID
        self.owner = owner
        self.createdAt = createdAt
        self.dueAt = dueAt
        self.state = state
        self.leaseCount = leaseCount
        self.overdue = overdue
    }
}

extension QueueItem: LeasableWork {}

/// A queue item handed to a worker, with the verification it is about.
public struct LeasedItem: Sendable, Equatable {
    public var item: QueueItem
    public var verification: Verification

    public init(item: QueueItem, verification: Verification) {
        self.item = item
        self.verification = verification
    }
}
