import Testing

/// The strict parser refuses what it should, so its passing the exporter's text means something.
@Suite struct PrometheusTextParserTests {
    @Test func acceptsWellFormedText() throws {
        let text = """
            # HELP a_total Things, with a \\\\ backslash.
            # TYPE a_total counter
            a_total{x="q\\"uote",y="back\\\\slash\\nnewline"} 3
            a_total{x="plain",y=""} 1e+03
            # TYPE h histogram
            h_bucket{le="0.5"} 1
            h_bucket{le="+Inf"} 2
            h_sum 0.75
            h_count 2
            # TYPE g gauge
            g -Inf
            g{k="v"} NaN 1700000000000

            """
        let parsed = try PrometheusText(text)
        #expect(parsed.value("a_total", ["x": "q\"uote", "y": "back\\slash\nnewline"]) == 3)
        #expect(parsed.value("a_total", ["x": "plain", "y": ""]) == 1000)
        #expect(parsed.family("a_total")?.help == "Things, with a \\ backslash.")
        #expect(parsed.value("h_count") == 2)
        #expect(parsed.value("g") == -.infinity)
    }

    @Test(arguments: [
        ("sample without TYPE", "x 1\n"),
        ("bad metric name", "# TYPE 1x gauge\n1x 1\n"),
        ("bad label name", "# TYPE x gauge\nx{1a=\"v\"} 1\n"),
        ("unquoted label value", "# TYPE x gauge\nx{a=v} 1\n"),
        ("bad escape", "# TYPE x gauge\nx{a=\"\\t\"} 1\n"),
        ("unterminated value", "# TYPE x gauge\nx{a=\"v} 1\n"),
        ("label twice", "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n"),
        ("bad float", "# TYPE x gauge\nx 1.2.3\n"),
        ("Swift's inf", "# TYPE x gauge\nx inf\n"),
        ("no trailing newline", "# TYPE x gauge\nx 1"),
        ("empty line", "# TYPE x gauge\n\nx 1\n"),
        ("duplicate series", "# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n"),
        ("family split in two", "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\n# TYPE x gauge\n"),
        ("sample outside its family", "# TYPE x gauge\ny 1\n"),
        ("negative counter", "# TYPE c_total counter\nc_total -1\n"),
        ("second HELP", "# HELP x a\n# HELP x b\n# TYPE x gauge\n"),
        ("HELP with no TYPE", "# HELP x a\n"),
        ("histogram without +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"),
        ("histogram +Inf is not count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"),
        ("histogram buckets go down",
         "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"),
        ("histogram without sum", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"),
    ])
    func refuses(_ reason: String, _ text: String) {
        #expect(throws: PrometheusText.ParseError.self, "\(reason)") { try PrometheusText(text) }
    }
}
