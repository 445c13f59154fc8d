import HeyanTransparencyLog
import Synchronization

/// A witness: the C2SP `tlog-witness` decision (``WitnessPolicy``) plus its memory. Requests are
/// decided one at a time, and a cosignature is returned only after the new state is on disk, so
/// two concurrent requests cannot both pass the same old size (the rollback race the
/// specification warns about), and a crash after answering cannot forget what was cosigned.
public final class Witness: Sendable {
    public let policy: WitnessPolicy
    public let states: WitnessStateDirectory
    private let serial = Mutex(())

    public init(policy: WitnessPolicy, states: WitnessStateDirectory) {
        self.policy = policy
        self.states = states
    }

    /// The answer to one `add-checkpoint` body at `now` (unix seconds). A state that cannot be
    /// read or written answers ``WitnessFailure`` instead of cosigning.
    public func addCheckpoint(body: String, now: UInt64) -> Result<WitnessAnswer, WitnessFailure> {
        serial.withLock { _ in
            var loadError: (any Error)?
            let answer = policy.addCheckpoint(
                body: body,
                known: { origin in
                    do { return try states.load(origin: origin) } catch {
                        loadError = error
                        return nil
                    }
                }, now: now)
            if let loadError { return .failure(WitnessFailure(reason: "cannot read the witness state: \(loadError)")) }
            if case .cosigned(_, let state) = answer {
                do { try states.save(state) } catch {
                    return .failure(WitnessFailure(reason: "cannot persist the witness state: \(error)"))
                }
            }
            return .success(answer)
        }
    }
}

/// The witness could not read or persist its own state: it cosigns nothing (HTTP 500).
public struct WitnessFailure: Error, Equatable, Sendable {
    public let reason: String
}
