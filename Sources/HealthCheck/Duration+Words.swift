extension Duration {
    /// `3s`, `1.5s`, `250ms`: how messages (`timed out after 3s`) and logs name a duration.
    var words: String {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if ms < 1000 { return "\(ms)ms" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        if ms % 100 == 0 { return "\(ms / 1000).\((ms % 1000) / 100)s" }
        return "\(ms)ms"
    }

    /// Whole nanoseconds (saturating), for NIO's `TimeAmount` and the histograms.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
