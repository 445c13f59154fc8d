import Foundation
import HeyanDomain
import Testing

/// The request-body and configuration fuzzing seeds, and every input a fuzz run ever crashed on
/// (`Tests/Fuzz/corpus/<target>`, `Tests/Fuzz/regressions/<target>`), fed to the same functions as the harnesses
/// (docs/fuzzing.md) in the normal suite: each is decided without a crash, a refusal is a documented 4xx.
@Suite struct FuzzRegressionTests {
    typealias F = RulesFixture

    static func inputs(_ target: String) -> [(String, [UInt8])] {
        var result: [(String, [UInt8])] = []
        for folder in ["corpus", "regressions"] {
            let directory = packageRoot.appendingPathComponent("Tests/Fuzz/\(folder)/\(target)").path
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
                if let data = FileManager.default.contents(atPath: "\(directory)/\(name)") {
                    result.append(("\(folder)/\(name)", Array(data)))
                }
            }
        }
        return result
    }

    static let documentedStatuses: Set<Int> = [400, 403, 404, 409, 410, 413, 422]

    /// Byte 0 picks the decoder as in `Tests/Fuzz/FuzzRequestJSON`; the seeds use the first variant of each.
    @Test func requestBodySeedsAreDecidedWithDocumentedStatuses() throws {
        let inputs = Self.inputs("FuzzRequestJSON")
        #expect(inputs.count >= 10)
        var accepted = 0
        for (name, input) in inputs where input.count >= 2 {
            let body = Array(input[2...])
            let refusal: Refusal?
            switch input[0] % 5 {
            case 0:
                refusal = VerificationRequestRules.evaluate(
                    body: body, requester: F.department(input[1] == 0 ? "housing-fund" : "hrss"), catalog: F.catalog,
                    today: F.today
                ).refusal
            case 1:
                refusal = RulesOwnerAnswerTests.evaluate(String(decoding: body, as: UTF8.self)).refusal
            case 2:
                refusal = RecordRules.put(
                    body: body, certificateType: "NR-REAL-ESTATE", subjectID: F.residentID,
                    caller: F.department("natural-resources"), catalog: F.catalog, today: F.today, now: 0
                ).refusal
            case 3:
                refusal = RecordRules.batch(
                    body: body, caller: F.department("natural-resources"), catalog: F.catalog, today: F.today, now: 0
                ).refusal
            default:
                refusal = RevocationRules.evaluate(body: body).refusal
            }
            if let refusal {
                #expect(Self.documentedStatuses.contains(refusal.status), "\(name): \(refusal)")
            } else {
                accepted += 1
            }
        }
        #expect(accepted >= 3, "the seeds include valid bodies, so mutations start from the accepting paths")
    }

    @Test func configurationSeedsLoadOrNameTheirProblem() throws {
        for (name, input) in Self.inputs("FuzzConfiguration") where input.count >= 1 {
            let bytes = Array(input[1...])
            do {
                switch input[0] % 5 {
                case 0: _ = try ServiceConfiguration.decode(bytes, file: "heyan.json")
                case 1: _ = try DepartmentDirectory.decode(bytes, file: "departments.json")
                case 2: _ = try Catalog.decode(bytes, file: "catalog.json", departments: F.departments)
                default: continue
                }
            } catch {
                #expect(!error.issues.isEmpty, "\(name)")
            }
        }
    }
}
