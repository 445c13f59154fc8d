/// How a `data-sharing` verification is answered at once from the owner's shared record (数据共享).
public enum DataSharingDecision {
    /// Compares the stated claims with the owner's record.
    ///
    /// - No record: `cannot-determine`, nothing disclosed. (Whether the question then goes to the
    ///   owner's queue instead is the type's `fallback`, decided by the caller.)
    /// - Every stated claim equals the record's value: `confirmed`.
    /// - Any stated claim differs, or the record lacks it: `denied`.
    ///
    /// `disclosed` holds the record's real values only for claims that were **stated** and that the
    /// requester's grant lists in `disclose` (minimum necessary disclosure): a requester never
    /// learns a claim it did not ask about, even one its grant would allow. The disclosure does not
    /// depend on the outcome: a denied `maritalStatus` disclosed to an allowed requester shows the
    /// real status.
    public static func decide(requested: ClaimSet, record: SharedRecord?, grant: RequesterGrant)
        -> (outcome: Outcome, disclosed: ClaimSet)
    {
        guard let record else { return (.cannotDetermine, [:]) }
        var outcome = Outcome.confirmed
        var disclosed: ClaimSet = [:]
        for (name, stated) in requested {
            let actual = record.claims[name]
            if actual != stated { outcome = .denied }
            if let actual, grant.disclose.contains(name) { disclosed[name] = actual }
        }
        return (outcome, disclosed)
    }
}
