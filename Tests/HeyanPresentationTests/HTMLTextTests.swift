import HeyanPresentation
import Testing

@Suite struct HTMLTextTests {
    @Test func hostileTextBecomesInert() {
        #expect(HTMLText.escape(#"<script>alert("x")</script> & 'y'"#)
            == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
        #expect(HTMLText("住房公积金提取：核验婚姻状况").escaped == "住房公积金提取：核验婚姻状况")
        #expect(HTMLText("\"><img src=x onerror=alert(1)>").escaped == "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")
    }
}
