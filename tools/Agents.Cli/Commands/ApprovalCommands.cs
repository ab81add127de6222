using System.CommandLine;
using System.Text.Json.Nodes;

namespace Agents.Cli.Commands;

/// <summary><c>agents approvals list|approve|reject</c>.</summary>
internal static class ApprovalCommands
{
    public static Command Approvals(CliEnvironment environment)
    {
        var command = new Command("approvals", "Approval requests you may decide: list, approve, reject.");

        var status = new Option<string>("--status") { Description = "Pending (default), Approved, Rejected, Expired or Withdrawn.", DefaultValueFactory = _ => "Pending" };
        var list = new Command("list", "List approval requests (pending ones by default) with the exact tool arguments.") { status };
        list.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var answer = await context.Gateway.GetAsync("/api/governance/approvals" + TaskCommands.Query(("status", parse.GetValue(status))), cancellationToken);
            return context.Output.Show(answer.Body, () =>
            {
                context.Output.Table(answer.Body as JsonArray ?? [],
                    ("ID", a => Output.Text(a, "id")),
                    ("TASK", a => Output.Text(a, "taskId")),
                    ("STEP", a => Output.Text(a, "stepId")),
                    ("TOOL", a => Output.Text(a, "tool")),
                    ("TAINTED", a => Output.Text(a, "argumentsTainted")),
                    ("BY", a => Output.Text(a, "requestedBy")),
                    ("EXPIRES", a => Output.Text(a, "expiresAt")),
                    ("ARGUMENTS", a => TaskCommands.Shorten(Output.Text(a, "argumentsJson"), 80)));
            });
        });
        command.Add(list);
        command.Add(Decide(environment, "approve", "Approve a request: the call runs with exactly the arguments shown."));
        command.Add(Decide(environment, "reject", "Reject a request: the call does not run."));
        return command;
    }

    private static Command Decide(CliEnvironment environment, string verb, string description)
    {
        var id = new Argument<Guid>("id") { Description = "The approval id." };
        var comment = new Option<string?>("--comment", "-m") { Description = "Why (kept in the audit log)." };
        var command = new Command(verb, description) { id, comment };
        command.Handle(environment, async (parse, context, cancellationToken) =>
        {
            var answer = await context.Gateway.PostAsync(
                $"/api/governance/approvals/{parse.GetValue(id)}/{verb}", new JsonObject { ["comment"] = parse.GetValue(comment) }, cancellationToken);
            return context.Output.Show(answer.Body, () => context.Output.Line($"Approval {parse.GetValue(id)}: {Output.Text(answer.Body, "status")} by {Output.Text(answer.Body, "decidedBy")}."));
        });
        return command;
    }
}
