import ArgumentParser
import ENIAgent

@main
struct EniAgent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eni-agent",
        abstract: "Makes elastic network interfaces usable the moment they are attached.",
        discussion: """
            Reads the ENIs the cloud says are attached, and brings the kernel (addresses, policy \
            routing tables and rules, rp_filter) and the network files to exactly that state. \
            Only routes and rules carrying its own protocol number are ever removed.
            """,
        version: eniAgentVersion,
        subcommands: [Diff.self, Reconfigure.self, Status.self, DaemonCommand.self]
    )
}
