import ArgumentParser
import ENIAgent

/// `eni-agent diff`: prints the plan. Exit 0: nothing to do; 2: changes pending; 1: error.
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what reconfigure would change, without changing anything.",
        discussion: "Exit status: 0 nothing to do, 2 changes pending, 1 error (a conflict counts as an error)."
    )

    @OptionGroup var options: SharedOptions

    @Flag(help: "Print the plan as JSON.")
    var json = false

    @Option(name: .customLong("interface"), help: ArgumentHelp("Only this interface (repeatable).", valueName: "if"))
    var interfaces: [String] = []

    func run() throws {
        var config = try options.resolve()
        // A dry run reports what is there now; it waits for pending ENIs only when asked to.
        if options.pendingTimeout == nil { config.pendingTimeoutMilliseconds = 0 }
        let agent = Agent(config: config)
        let plan = try agent.diff(interfaces: Set(interfaces))
        if json {
            print(PlanOutput.json(plan, about: agent.about), terminator: "")
        } else {
            print(PlanOutput.text(plan, verbose: options.verbose), terminator: "")
            for n in PlanOutput.notes(plan) { warn("note: \(n)") }
            if options.verbose {
                warn("provider: \(agent.about.provider)")
                warn("renderer: \(agent.about.renderer)")
                for l in PlanOutput.states(plan) { warn(l) }
            }
        }
        for p in plan.problems { warn("error: \(p)") }
        if !plan.problems.isEmpty || PlanOutput.hasUnknown(plan) { throw ExitCode(1) }
        if !plan.isEmpty { throw ExitCode(2) }
    }
}
