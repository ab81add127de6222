using Agents.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

return await AgentsCli.RunAsync(args, CliEnvironment.FromProcess(), cancellation.Token);
