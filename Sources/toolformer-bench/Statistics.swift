/// Medians over runs: every number the benchmark reports is the median of `--runs` runs.
func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The index of the run whose `key` is the median (the lower middle for an even count).
func medianIndex(_ values: [Double]) -> Int {
    let order = values.indices.sorted { values[$0] < values[$1] }
    return order[(order.count - 1) / 2]
}
