/// Unified diffs (`diff -u` format) of small text files.
public enum UnifiedDiff {
    private enum Op: Equatable { case same(String), del(String), add(String) }

    /// `--- PATH` / `+++ PATH` with hunks of 3 lines of context. A missing side is `/dev/null`.
    public static func render(path: String, old: String?, new: String?, context: Int = 3) -> String {
        let a = lines(old), b = lines(new)
        let ops = diff(a, b)
        var out = "--- \(old == nil ? "/dev/null" : path)\n+++ \(new == nil ? "/dev/null" : path)\n"
        // Indices of changed ops; group them into hunks separated by more than 2*context equal lines.
        let changed = ops.indices.filter { if case .same = ops[$0] { return false } else { return true } }
        guard !changed.isEmpty else { return out }
        var groups: [[Int]] = [[changed[0]]]
        for i in changed.dropFirst() {
            if i - groups[groups.count - 1].last! > 2 * context { groups.append([i]) } else { groups[groups.count - 1].append(i) }
        }
        for g in groups {
            let start = max(0, g.first! - context), end = min(ops.count - 1, g.last! + context)
            // Line numbers at `start` in each file.
            var aLine = 1, bLine = 1
            for op in ops[..<start] {
                switch op {
                case .same: aLine += 1; bLine += 1
                case .del: aLine += 1
                case .add: bLine += 1
                }
            }
            var body = "", aCount = 0, bCount = 0
            for op in ops[start...end] {
                switch op {
                case .same(let l): body += " \(l)\n"; aCount += 1; bCount += 1
                case .del(let l): body += "-\(l)\n"; aCount += 1
                case .add(let l): body += "+\(l)\n"; bCount += 1
                }
            }
            out += "@@ -\(range(aLine, aCount)) +\(range(bLine, bCount)) @@\n" + body
        }
        return out
    }

    private static func range(_ line: Int, _ count: Int) -> String {
        count == 0 ? "\(line - 1),0" : count == 1 ? "\(line)" : "\(line),\(count)"
    }

    private static func lines(_ s: String?) -> [String] {
        guard let s, !s.isEmpty else { return [] }
        var l = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if l.last == "" { l.removeLast() }
        return l
    }

    /// Longest-common-subsequence diff; the files are small (tens of lines).
    private static func diff(_ a: [String], _ b: [String]) -> [Op] {
        let n = a.count, m = b.count
        var lcs = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var ops: [Op] = [], i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, a[i] == b[j] { ops.append(.same(a[i])); i += 1; j += 1 }
            else if i < n, j == m || lcs[i + 1][j] >= lcs[i][j + 1] { ops.append(.del(a[i])); i += 1 }
            else { ops.append(.add(b[j])); j += 1 }
        }
        return ops
    }
}
