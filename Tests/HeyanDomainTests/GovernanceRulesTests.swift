import Foundation
import HeyanDomain
import Testing

@Suite struct GovernanceRulesTests {
    static let now: Millis = 1_795_000_000_000

    func latest() throws -> CatalogVersion {
        let catalog = try Catalog.decode(try packageFile("config/catalog.json"), file: "catalog.json", departments: try exampleDepartments())
        return CatalogVersion(catalog: catalog, effectiveAt: Self.now - 1000, reason: "seed", legalBasis: "", actor: "heyan", createdAt: 0, changedCodes: [])
    }

    func evaluate(_ body: String) throws -> Result<CatalogChangePlan, Refusal> {
        CatalogChangeRules.evaluate(body: Array(body.utf8), latest: try latest(), departments: try exampleDepartments(), now: Self.now)
    }

    @Test func cancelAmendAndAddMakeTheNextVersion() throws {
        let plan = try evaluate("""
            {"reason":"r","legalBasis":"b","effectiveAt":"2030-01-01T00:00:00Z","changes":[
             {"op":"cancel","code":"CIV-MARRIAGE","reason":"直接取消"},
             {"op":"amend","code":"NR-REAL-ESTATE","fields":{"validityDays":20}}]}
            """).get()
        #expect(plan.catalog.version == 2)
        #expect(plan.effectiveAt == Timestamp.parse("2030-01-01T00:00:00Z"))
        let marriage = try #require(plan.catalog["CIV-MARRIAGE"])
        #expect(marriage.method == .cancelled)
        #expect(marriage.requesters.isEmpty && marriage.validityDays == nil && marriage.timeLimitWorkingDays == nil)
        #expect(marriage.cancellation?.reason == "直接取消")
        #expect(marriage.cancellation?.effectiveDate.description == "2030-01-01")
        #expect(marriage.owner == "civil-affairs")
        // `null` removed the fallback, which decoding then fills with the default; the time limit
        // that only a queue fallback allows is refused with its path.
        let refused = try evaluate("""
            {"reason":"r","legalBasis":"b","changes":[{"op":"amend","code":"NR-REAL-ESTATE","fields":{"fallback":null}}]}
            """)
        guard case .failure(let refusal) = refused else { Issue.record("accepted"); return }
        #expect(refusal.status == 422)
        #expect(refusal.errors.map(\.path) == ["changes[0].fields.timeLimitWorkingDays"])
        #expect(plan.catalog["NR-REAL-ESTATE"]?.validityDays == 20)
    }

    @Test func everyProblemIsNamedByItsPathInTheRequest() throws {
        guard case .failure(let refusal) = try evaluate("""
            {"reason":" ","legalBasis":"b","effectiveAt":"yesterday","extra":1,"changes":[
             {"op":"cancel","code":"COMM-ALIVE","reason":"again"},
             {"op":"amend","code":"CIV-MARRIAGE","fields":{"code":"CIV-OTHER"}},
             {"op":"add","item":{"code":"EDU-DEGREE"}},
             {"op":"cancel","code":"CIV-MARIAGE","reason":"x"},
             {"op":"amend","code":"EDU-DEGREE","fields":{}}]}
            """)
        else { Issue.record("accepted"); return }
        #expect(refusal.status == 422)
        let paths = refusal.errors.map(\.path)
        #expect(paths.contains("reason"))
        #expect(paths.contains("effectiveAt"))
        #expect(paths.contains("extra"))
        #expect(paths.contains("changes[0].code"))
        #expect(paths.contains("changes[1].fields.code"))
        #expect(paths.contains { $0.hasPrefix("changes[2].item") })
        #expect(paths.contains("changes[3].code"))
        #expect(refusal.errors.first { $0.path == "changes[3].code" }?.message.contains("CIV-MARRIAGE") == true)
        #expect(paths.contains("changes[4].fields"))
    }

    @Test func effectiveTimeIsNeverInThePastNorBeforeTheNewestVersion() throws {
        let past = Timestamp.rfc3339(Self.now - 120_000)
        guard case .failure(let refusal) = try evaluate(
            #"{"reason":"r","legalBasis":"b","effectiveAt":"\#(past)","changes":[{"op":"cancel","code":"EDU-DEGREE","reason":"x"}]}"#)
        else { Issue.record("accepted"); return }
        #expect(refusal.errors.map(\.path) == ["effectiveAt"])
        // Within the minute of clock skew: accepted, effective now.
        let skew = Timestamp.rfc3339(Self.now - 30_000)
        let plan = try evaluate(
            #"{"reason":"r","legalBasis":"b","effectiveAt":"\#(skew)","changes":[{"op":"cancel","code":"EDU-DEGREE","reason":"x"}]}"#).get()
        #expect(plan.effectiveAt == Self.now)
        // A stale base version is a conflict.
        guard case .failure(let conflict) = try evaluate(
            #"{"baseVersion":3,"reason":"r","legalBasis":"b","changes":[{"op":"cancel","code":"EDU-DEGREE","reason":"x"}]}"#)
        else { Issue.record("accepted"); return }
        #expect(conflict.status == 409)
    }

    @Test func htmlEscapesEveryCatalogText() throws {
        #expect(CatalogPublication.escape(#"<a href="x">&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;")
        var catalog = try latest().catalog
        var items = catalog.items
        items[0].name.zh = "<b>婚姻</b> & \"状况\""
        items[0].legalBasis = "</td></tr></table><script>x</script>"
        catalog = Catalog(version: 2, items: items)
        let html = CatalogPublication(catalog: catalog, departments: try exampleDepartments()).html
        #expect(html.contains("&lt;b&gt;婚姻&lt;/b&gt; &amp; &quot;状况&quot;"))
        #expect(!html.contains("<script>"))
        #expect(!html.contains("<b>"))
        #expect(html.components(separatedBy: "<table>").count - 1 == html.components(separatedBy: "</table>").count - 1)
    }

    @Test func csvQuotesOnlyWhereNeeded() {
        #expect(CSVText.record(["a", "b,c", "say \"hi\"", "line\nbreak", "婚姻"]) == "a,\"b,c\",\"say \"\"hi\"\"\",\"line\nbreak\",婚姻\r\n")
    }

    @Test func nearestRankPercentiles() {
        #expect(Percentile.nearestRank([], 0.5) == nil)
        #expect(Percentile.nearestRank([7], 0.9) == 7)
        let values: [Millis] = Array(1...10)
        #expect(Percentile.nearestRank(values, 0.5) == 5)
        #expect(Percentile.nearestRank(values, 0.9) == 9)
        #expect(Percentile.nearestRank([1, 2, 3], 0.5) == 2)
    }

    @Test func cancelledItemsAreClassifiedByTheirReason() throws {
        let catalog = try latest().catalog
        #expect(ExemptionMethod.of(try #require(catalog["COMM-GOOD-CONDUCT"])) == .directCancel)
        #expect(ExemptionMethod.of(try #require(catalog["COMM-ALIVE"])) == .dataSharing)
        #expect(ExemptionMethod.of(try #require(catalog["CIV-DIVORCE-PROPERTY"])) == .other)
        #expect(ExemptionMethod.of(try #require(catalog["MKT-NO-MAJOR-VIOLATION"])) == .commitment)
    }
}
