import ArgumentParser
import ENIAgent

/// `eni-agent reconfigure`: applies the plan once and prints what it did.
struct Reconfigure: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the kernel and the network files to the state the metadata describes.",
        discussion: "Exit status: 0 done (or nothing to do), 1 a change failed, a conflict remains, or an error."
    )

    @OptionGroup var options: SharedOptions

    @Flag(help: "Print what was done as JSON.")
    var json = false

    @Option(name: .customLong("interface"), help: ArgumentHelp("Only this interface (repeatable).", valueName: "if"))
    var interfaces: [String] = []

    func run() throws {
        let result = try Agent(config: options.resolve()).reconfigure(interfaces: Set(interfaces), udevWait: .seconds(10))
        if json {
            print(PlanOutput.json(result), terminator: "")
        } else {
            print(PlanOutput.text(result, verbose: options.verbose), terminator: "")
            for n in PlanOutput.notes(result.plan) { warn("note: \(n)") }
            if options.verbose { for l in PlanOutput.states(result.plan) { warn(l) } }
            print(PlanOutput.summary(result))
        }
        for p in result.plan.problems { warn("error: \(p)") }
        for n in result.managerNotes { warn("note: \(n)") }
        for p in result.managerProblems { warn("warning: \(p)") }
        if !result.remaining.isEmpty, result.failed.isEmpty {
            warn("warning: \(result.remaining.count) changes still differ after applying; the next run retries them")
        }
        if !result.failed.isEmpty || !result.plan.problems.isEmpty || PlanOutput.hasUnknown(result.plan) { throw ExitCode(1) }
    }
}
