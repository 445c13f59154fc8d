/// What a virtual user does in one transaction: a fixed sequence of requests, each on one of the
/// user's connections, and what each response must look like.
///
/// A script is owned by one worker thread. It owns the request bytes it hands out, which stay
/// valid until the next call on it.
protocol BenchScript: AnyObject {
    /// Which identities the user's connections use: 0 the requester, 1 the owner.
    var connectionRoles: [BenchRole] { get }
    /// The request for `step` of the current transaction and the index (into
    /// ``connectionRoles``) of the connection to send it on.
    func request(step: Int) -> (connection: Int, bytes: UnsafeRawBufferPointer)
    /// Judges the response to `step`.
    func response(step: Int, status: Int, body: UnsafeRawBufferPointer) -> StepResult
}

/// The identity a connection uses.
public enum BenchRole: Int, Sendable {
    case requester = 0
    case owner = 1
}

enum StepResult {
    /// Send the next step's request.
    case next
    /// The transaction is complete.
    case done
    /// The status was not the expected one.
    case unexpectedStatus
    /// The body lacked what the next step needs.
    case unexpectedBody(String)
}

/// One request, the same every time (healthz, url, handshake, idle).
final class FixedRequestScript: BenchScript {
    let connectionRoles: [BenchRole] = [.requester]
    private let request: RequestBuffer
    private let accepts: (Int) -> Bool

    init(_ bytes: [UInt8], accepts: @escaping (Int) -> Bool) {
        request = RequestBuffer(bytes)
        self.accepts = accepts
    }

    func request(step: Int) -> (connection: Int, bytes: UnsafeRawBufferPointer) { (0, request.bytes) }

    func response(step: Int, status: Int, body: UnsafeRawBufferPointer) -> StepResult {
        accepts(status) ? .done : .unexpectedStatus
    }
}

/// The next subject for a worker's users: worker `w` of `T` takes subjects w, w+T, w+2T, …
/// round and round, so threads never ask about the same subject at the same time.
final class SubjectCursor {
    let pool: SubjectPool
    private var next: Int
    private let stride: Int

    init(pool: SubjectPool, worker: Int, workers: Int) {
        self.pool = pool
        next = worker % pool.count
        stride = max(1, workers)
    }

    /// Copies the next subject's 18 bytes into `buffer` at `offset`.
    func writeNext(into buffer: RequestBuffer, at offset: Int) {
        let index = next
        next += stride
        if next >= pool.count { next %= pool.count }
        pool.bytes.withUnsafeBytes { all in
            buffer.overwrite(
                at: offset,
                with: UnsafeRawBufferPointer(rebasing: all[(index * SubjectPool.idLength)..<((index + 1) * SubjectPool.idLength)]))
        }
    }
}

/// A request whose body holds a subject ID: the bytes are built once with a placeholder ID and
/// the ID is overwritten before each send.
final class SubjectRequestTemplate {
    let buffer: RequestBuffer
    let idOffset: Int
    static let placeholder = "11010519491231002X"

    /// `body` must contain ``placeholder`` exactly once.
    init(method: String, target: String, body: String) {
        buffer = RequestBuffer(RequestBuffer.request(method: method, target: target, body: Array(body.utf8)))
        idOffset = buffer.firstOffset(of: Array(Self.placeholder.utf8))!
    }
}

/// data-sharing: `POST /v1/verifications` for a seeded subject, answered at once (201).
final class DataSharingScript: BenchScript {
    let connectionRoles: [BenchRole] = [.requester]
    private let template: SubjectRequestTemplate
    private let cursor: SubjectCursor

    static let body = """
        {"certificateType":"PSB-NO-CRIMINAL-RECORD","matterCode":"HR-RECRUIT-001","purpose":"事业单位招聘：核验无犯罪记录（压力测试）",\
        "subject":{"idType":"resident-id","id":"\(SubjectRequestTemplate.placeholder)","name":"张三"},"claims":{"hasCriminalRecord":false}}
        """

    init(cursor: SubjectCursor) {
        self.cursor = cursor
        template = SubjectRequestTemplate(method: "POST", target: "/v1/verifications", body: Self.body)
    }

    func request(step: Int) -> (connection: Int, bytes: UnsafeRawBufferPointer) {
        cursor.writeNext(into: template.buffer, at: template.idOffset)
        return (0, template.buffer.bytes)
    }

    func response(step: Int, status: Int, body: UnsafeRawBufferPointer) -> StepResult {
        status == 201 ? .done : .unexpectedStatus
    }
}

/// queue: one round trip of a department verification. The requester submits a CIV-MARRIAGE
/// question (202), the owner leases one item of its queue, answers it `confirmed` (200, with the
/// attestation) and reads that attestation (200).
///
/// The leased item need not be the one this user submitted: every user submits one item before
/// it leases one, so the queue always holds at least as many items as there are users leasing.
final class QueueRoundTripScript: BenchScript {
    let connectionRoles: [BenchRole] = [.requester, .owner]
    private let submit: SubjectRequestTemplate
    private let cursor: SubjectCursor
    private let lease: RequestBuffer
    private let answer = RequestBuffer(capacity: 512)
    private let fetch = RequestBuffer(capacity: 256)

    static let body = """
        {"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":"住房公积金提取：核验婚姻状况（压力测试）",\
        "subject":{"idType":"resident-id","id":"\(SubjectRequestTemplate.placeholder)","name":"张三"},"claims":{"maritalStatus":"married"}}
        """

    init(cursor: SubjectCursor) {
        self.cursor = cursor
        submit = SubjectRequestTemplate(method: "POST", target: "/v1/verifications", body: Self.body)
        lease = RequestBuffer(RequestBuffer.request(method: "GET", target: "/v1/queue?limit=1&lease=60&wait=5", body: nil))
    }

    func request(step: Int) -> (connection: Int, bytes: UnsafeRawBufferPointer) {
        switch step {
        case 0:
            cursor.writeNext(into: submit.buffer, at: submit.idOffset)
            return (0, submit.buffer.bytes)
        case 1: return (1, lease.bytes)
        case 2: return (1, answer.bytes)
        default: return (1, fetch.bytes)
        }
    }

    func response(step: Int, status: Int, body: UnsafeRawBufferPointer) -> StepResult {
        switch step {
        case 0:
            return status == 202 ? .next : .unexpectedStatus
        case 1:
            guard status == 200 else { return .unexpectedStatus }
            guard let id = jsonStringValue(in: body, after: "\"id\":\"", prefix: "qi_"),
                let token = jsonStringValue(in: body, after: "\"leaseToken\":\"")
            else { return .unexpectedBody("the queue lease returned no item") }
            let note = #"{"leaseToken":""#.utf8.count + #"","outcome":"confirmed"}"#.utf8.count
            answer.removeAll()
            answer.append("POST /v1/queue/")
            answer.append(id)
            answer.append("/answer HTTP/1.1\r\nHost: localhost\r\nUser-Agent: heyan-bench\r\nContent-Type: application/json\r\nContent-Length: ")
            answer.append(decimal: note + token.count)
            answer.append("\r\n\r\n{\"leaseToken\":\"")
            answer.append(token)
            answer.append("\",\"outcome\":\"confirmed\"}")
            return .next
        case 2:
            guard status == 200 else { return .unexpectedStatus }
            guard let attestation = jsonStringValue(in: body, after: "\"id\":\"", prefix: "att_") else {
                return .unexpectedBody("the answer carried no attestation")
            }
            fetch.removeAll()
            fetch.append("GET /v1/attestations/")
            fetch.append(attestation)
            fetch.append(" HTTP/1.1\r\nHost: localhost\r\nUser-Agent: heyan-bench\r\n\r\n")
            return .next
        default:
            return status == 200 ? .done : .unexpectedStatus
        }
    }
}
