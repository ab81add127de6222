using Agents.HealthProbe;

return await Probe.RunAsync(args, Console.Error, CancellationToken.None).ConfigureAwait(false);
