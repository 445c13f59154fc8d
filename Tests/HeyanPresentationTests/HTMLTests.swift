import HeyanPresentation
import Testing

@Suite struct HTMLTests {
    @Test func interpolatedTextIsEscapedAndMarkupComposes() {
        let purpose = "<script>alert('x')</script>"
        let badge: HTML = "<span class=\"ok\">\("已答复")</span>"
        let row: HTML = "<tr><td>\(purpose)</td><td>\(badge)</td><td>\(42)</td></tr>"
        #expect(row.rendered
            == "<tr><td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</td><td><span class=\"ok\">已答复</span></td><td>42</td></tr>")
        let none: String? = nil
        #expect(HTML("<p>\(none)</p>").rendered == "<p></p>")
        #expect(HTML.join(["<li>a</li>", "<li>b</li>"]).rendered == "<li>a</li><li>b</li>")
    }

    @Test func onlySameOriginPathsBecomeLinks() {
        #expect(HTML.path("/console/queue?x=1&y=2")?.rendered == "/console/queue?x=1&amp;y=2")
        for bad in ["javascript:alert(1)", "//evil.example/", "https://evil.example/", "/\\evil", "/a\nb", "console"] {
            #expect(HTML.path(bad) == nil, "\(bad)")
        }
    }

    @Test func barChartScalesAndEscapes() {
        let chart = BarChart(
            title: "平均答复时间", unit: "h",
            bars: [.init("民政局", 12.5), .init("<b>税务</b>", 3), .init("公安局", 0)])
        #expect(chart.scaleMaximum == 20)
        let svg = chart.html.rendered
        #expect(svg.contains("<title>平均答复时间</title>"))
        #expect(svg.contains("&lt;b&gt;税务&lt;/b&gt;"))
        #expect(!svg.contains("<b>"))
        #expect(svg.contains("width=\"225\""))  // 12.5 / 20 × 360
        #expect(svg.contains(">12.5 h</text>"))
        #expect(BarChart(title: "t", unit: "", bars: []).scaleMaximum == 1)
        #expect(BarChart(title: "t", unit: "", bars: [.init("a", 7)]).scaleMaximum == 10)
        #expect(BarChart(title: "t", unit: "", bars: [.init("a", 140)]).scaleMaximum == 200)
    }
}
