using System.CommandLine;
using Agents.Cli.Commands;

namespace Agents.Cli;

/// <summary>What a command runs with: where it writes, the gateway it talks to and how it reached it.</summary>
internal sealed record CommandContext(Output Output, GatewayClient Gateway, Connection Connection);

/// <summary>The <c>agents</c> command line: options every command shares, the command tree, exit codes.</summary>
internal static class AgentsCli
{
    public static readonly Option<string?> Url = new("--url")
    {
        Description = $"The gateway's URL (else {Connection.UrlVariable}, else the profile).",
        Recursive = true,
    };

    public static readonly Option<string?> ApiKey = new("--api-key")
    {
        Description = $"The API key (else {Connection.ApiKeyVariable}, else the profile).",
        Recursive = true,
    };

    public static readonly Option<string?> Profile = new("--profile")
    {
        Description = $"The profile of the profile file to use (else {Connection.ProfileVariable}, else 'default').",
        Recursive = true,
    };

    public static readonly Option<OutputFormat> OutputOption = new("--output", "-o")
    {
        Description = "text (tables) or json (the API's JSON, for scripts).",
        Recursive = true,
        DefaultValueFactory = _ => OutputFormat.Text,
    };

    public static RootCommand Build(CliEnvironment environment)
    {
        var root = new RootCommand("agents: run and operate AI agents on the Agents platform, through its gateway.");
        root.Add(Url);
        root.Add(ApiKey);
        root.Add(Profile);
        root.Add(OutputOption);
        root.Add(TaskCommands.Submit(environment));
        root.Add(TaskCommands.Tasks(environment));
        root.Add(TaskCommands.Replay(environment));
        root.Add(TaskCommands.ReplayReport(environment));
        root.Add(ApprovalCommands.Approvals(environment));
        root.Add(OperationsCommands.DeadLetters(environment));
        root.Add(OperationsCommands.Tools(environment));
        root.Add(OperationsCommands.Policy(environment));
        root.Add(OperationsCommands.Audit(environment));
        root.Add(TemplateCommands.Templates(environment));
        root.Add(EvalCommands.Eval(environment));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CliEnvironment environment, CancellationToken cancellationToken)
    {
        var parsed = Build(environment).Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await environment.Error.WriteLineAsync(error.Message);
            }

            await environment.Error.WriteLineAsync("Run 'agents --help' (or the command with --help) for usage.");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = environment.Out, Error = environment.Error, EnableDefaultExceptionHandler = false }, cancellationToken);
    }

    /// <summary>Runs <paramref name="handler"/> with the connection resolved and turns failures into messages and exit codes.</summary>
    public static void Handle(this Command command, CliEnvironment environment, Func<ParseResult, CommandContext, CancellationToken, Task<int>> handler) =>
        command.HandleLocally(environment, async (parse, output, cancellationToken) =>
        {
            var connection = Connection.Resolve(parse.GetValue(Url), parse.GetValue(ApiKey), parse.GetValue(Profile), environment);
            using var gateway = new GatewayClient(connection, environment.Handler);
            return await handler(parse, new CommandContext(output, gateway, connection), cancellationToken);
        });

    /// <summary>Like <see cref="Handle"/>, for a command that works on local files only and needs no gateway.</summary>
    public static void HandleLocally(this Command command, CliEnvironment environment, Func<ParseResult, Output, CancellationToken, Task<int>> handler) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                return await handler(parse, new Output(environment.Out, environment.Error, parse.GetValue(OutputOption), environment.Width), cancellationToken);
            }
            catch (CliException ex)
            {
                await environment.Error.WriteLineAsync(ex.Message);
                return ex.ExitCode;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await environment.Error.WriteLineAsync("Stopped.");
                return ExitCodes.Unsuccessful;
            }
        });
}
