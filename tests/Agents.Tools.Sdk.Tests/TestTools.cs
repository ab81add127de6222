using System.Collections.Concurrent;
using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Agents.Contracts;

namespace Agents.Tools.Sdk.Tests;

/// <summary>Counts what the test tools really did, per idempotency key.</summary>
public sealed class Effects
{
    public ConcurrentDictionary<string, int> Executions { get; } = new();

    public ConcurrentDictionary<string, int> Compensations { get; } = new();

    public int ExecutionsOf(string key) => Executions.GetValueOrDefault(key);

    public int CompensationsOf(string key) => Compensations.GetValueOrDefault(key);
}

[Description("Whom to greet and how.")]
public sealed record GreetInput(
    [Description("The name of the person to greet.")][MaxLength(20)][RegularExpression("^[A-Za-z ]+$")] string Name,
    [Range(1, 5)] int Times = 1,
    string? Title = null);

public sealed record GreetOutput(string Message, IReadOnlyList<string> Lines);

[Tool("test.greet", "Greets someone a number of times.", Scope = "test.read")]
public sealed class Greet(Effects effects) : ITool<GreetInput, GreetOutput>
{
    public Task<GreetOutput> ExecuteAsync(GreetInput input, ToolContext context, CancellationToken cancellationToken)
    {
        effects.Executions.AddOrUpdate(context.IdempotencyKey, 1, (_, n) => n + 1);
        var who = input.Title is null ? input.Name : $"{input.Title} {input.Name}";
        var lines = Enumerable.Repeat($"Hello, {who} (tenant {context.Principal.TenantId})", input.Times).ToList();
        return Task.FromResult(new GreetOutput(lines[0], lines));
    }
}

public enum Speed
{
    Standard,
    Express,
}

public sealed record PlaceOrderInput([MinLength(1)] string Item, [Range(1, 100)] int Quantity, Speed Speed = Speed.Standard);

public sealed record PlaceOrderOutput(string OrderId, int Quantity);

[Tool("test.place-order", "Places an order (slowly, so duplicates overlap).", SideEffect = SideEffectClass.Mutating, Risk = RiskTier.Medium, Scope = "test.write")]
public sealed class PlaceOrder(Effects effects) : ICompensableTool<PlaceOrderInput, PlaceOrderOutput>
{
    public async Task<PlaceOrderOutput> ExecuteAsync(PlaceOrderInput input, ToolContext context, CancellationToken cancellationToken)
    {
        var count = effects.Executions.AddOrUpdate(context.IdempotencyKey, 1, (_, n) => n + 1);
        await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken);
        return new PlaceOrderOutput($"O-{context.IdempotencyKey}-{count}", input.Quantity);
    }

    public Task<string> CompensateAsync(PlaceOrderInput input, PlaceOrderOutput previousOutput, ToolContext context, CancellationToken cancellationToken)
    {
        effects.Compensations.AddOrUpdate(context.IdempotencyKey, 1, (_, n) => n + 1);
        return Task.FromResult($"Order {previousOutput.OrderId} ({input.Quantity} x {input.Item}) cancelled.");
    }
}

public sealed record FlakyInput(string Mode);

public sealed record FlakyOutput(string Mode);

[Tool("test.flaky", "Fails the way it is asked to.", SideEffect = SideEffectClass.Idempotent, Scope = "test.write", TimeoutSeconds = 1)]
public sealed class Flaky(Effects effects) : ITool<FlakyInput, FlakyOutput>
{
    public async Task<FlakyOutput> ExecuteAsync(FlakyInput input, ToolContext context, CancellationToken cancellationToken)
    {
        var count = effects.Executions.AddOrUpdate(context.IdempotencyKey, 1, (_, n) => n + 1);
        switch (input.Mode)
        {
            case "transient-once" when count == 1:
                throw new ToolException("The backend is busy.", transient: true);
            case "permanent":
                throw new ToolException("The order does not exist.");
            case "crash":
                throw new InvalidOperationException("Something broke inside.");
            case "argument":
                throw new ArgumentOutOfRangeException(nameof(input), "Mode is out of range for this backend.");
            case "slow":
                await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
                break;
        }

        return new FlakyOutput(input.Mode);
    }
}
