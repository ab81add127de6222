using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Agents.Testing;
using Agents.ToolGateway.Data;
using Agents.ToolGateway.Invocation;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Agents.ToolGateway.Tests;

[Trait("Category", "Infrastructure")]
public sealed class ArgumentsHasherTests
{
    [Fact]
    public void Formatting_member_order_and_number_spelling_do_not_change_the_hash()
    {
        var a = ArgumentsHasher.Compute("""{"b":[1,2,{"y":true,"x":null}],"a":1.50}""");
        var b = ArgumentsHasher.Compute("""
            { "a": 15E-1,
              "b": [1, 2.0, { "x": null, "y": true }] }
            """);

        Assert.Equal(a, b);
    }

    [Fact]
    public void Any_change_of_a_value_changes_the_hash()
    {
        Assert.NotEqual(ArgumentsHasher.Compute("""{"amount":100}"""), ArgumentsHasher.Compute("""{"amount":1000}"""));
        Assert.NotEqual(ArgumentsHasher.Compute("""{"a":[1,2]}"""), ArgumentsHasher.Compute("""{"a":[2,1]}"""));
        Assert.NotEqual(ArgumentsHasher.Compute("""{"a":"1"}"""), ArgumentsHasher.Compute("""{"a":1}"""));
    }

    [Fact]
    public void Hash_is_sha256_hex_of_the_documented_canonical_form()
    {
        const string input = "{ \"é\": \"line\\nbreak \\u0001 \\\"q\\\"\", \"B\": -0.0, \"a\": 1e2 }";
        const string canonical = "{\"B\":0,\"a\":100,\"é\":\"line\\nbreak \\u0001 \\\"q\\\"\"}";

        Assert.Equal(canonical, ArgumentsHasher.Canonicalize(input));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), ArgumentsHasher.Compute(input));
    }

    [Fact]
    public void Duplicate_member_names_are_rejected()
    {
        Assert.Throws<System.Text.Json.JsonException>(() => ArgumentsHasher.Compute("""{"a":1,"a":2}"""));
    }
}

[Trait("Category", "Infrastructure")]
public sealed class ArgumentsValidatorTests
{
    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "customerId": { "type": "string", "pattern": "^C-[0-9]+$" },
            "limit": { "type": "integer", "minimum": 1, "maximum": 50 },
            "status": { "const": "open" }
          },
          "required": ["customerId"]
        }
        """;

    private readonly ArgumentsValidator validator = new();

    [Fact]
    public void Valid_arguments_have_no_errors()
    {
        Assert.Empty(validator.Validate(Schema, """{"customerId":"C-42","limit":5,"status":"open"}"""));
    }

    [Fact]
    public void Each_problem_is_named_with_its_location()
    {
        var errors = validator.Validate(Schema, """{"customerId":"42","limit":0,"status":"closed"}""");

        Assert.Contains(errors, e => e.StartsWith("/customerId: ", StringComparison.Ordinal) && e.Contains("^C-[0-9]+$", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("/limit: ", StringComparison.Ordinal) && e.Contains('1'));
        Assert.Contains("/status: value must be \"open\", got \"closed\"", errors);
        Assert.Equal(3, errors.Count);
    }

    [Fact]
    public void Not_json_is_reported_as_such()
    {
        var error = Assert.Single(validator.Validate(Schema, "{customerId:"));
        Assert.StartsWith("/: the arguments are not valid JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_schemas_with_the_same_id_do_not_clash()
    {
        const string first = """{"$id":"https://tools/args","type":"object","required":["a"]}""";
        const string second = """{"$id":"https://tools/args","type":"object","required":["b"]}""";

        Assert.Empty(validator.Validate(first, """{"a":1}"""));
        Assert.Empty(validator.Validate(second, """{"b":1}"""));
        Assert.NotEmpty(validator.Validate(second, """{"a":1}"""));
    }

    [Fact]
    public void Unusable_schema_is_detected()
    {
        Assert.NotNull(ArgumentsValidator.CheckSchema("{not json"));
        Assert.Null(ArgumentsValidator.CheckSchema(Schema));
    }
}

[Trait("Category", "Infrastructure")]
public sealed class ToolCircuitTests
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Opens_after_the_threshold_refuses_during_the_break_then_lets_one_trial_through()
    {
        var circuit = new ToolCircuit(3, TimeSpan.FromSeconds(30), time);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(CircuitPermit.Call, circuit.TryAcquire());
            Assert.Equal(CircuitState.Closed, circuit.RecordFailure(CircuitPermit.Call).State);
        }

        Assert.Equal(CircuitState.Open, circuit.RecordFailure(circuit.TryAcquire()).State);
        Assert.Equal(CircuitPermit.Refused, circuit.TryAcquire());

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(CircuitPermit.Refused, circuit.TryAcquire());

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(CircuitState.HalfOpen, circuit.Snapshot().State);
        Assert.Equal(CircuitPermit.Trial, circuit.TryAcquire());
        Assert.Equal(CircuitPermit.Refused, circuit.TryAcquire());

        var closed = circuit.RecordSuccess(CircuitPermit.Trial);
        Assert.Equal(CircuitState.Closed, closed!.State);
        Assert.Equal(0, closed.ConsecutiveFailures);
        Assert.Equal(CircuitPermit.Call, circuit.TryAcquire());
    }

    [Fact]
    public void Failed_trial_opens_the_circuit_for_another_break()
    {
        var circuit = new ToolCircuit(1, TimeSpan.FromSeconds(10), time);
        circuit.RecordFailure(circuit.TryAcquire());
        time.Advance(TimeSpan.FromSeconds(10));

        var reopened = circuit.RecordFailure(circuit.TryAcquire());

        Assert.Equal(CircuitState.Open, reopened.State);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromSeconds(10), reopened.OpenUntil);
        Assert.Equal(CircuitPermit.Refused, circuit.TryAcquire());
    }

    [Fact]
    public void A_success_resets_the_consecutive_failures()
    {
        var circuit = new ToolCircuit(3, TimeSpan.FromSeconds(10), time);
        circuit.RecordFailure(CircuitPermit.Call);
        circuit.RecordFailure(CircuitPermit.Call);
        Assert.NotNull(circuit.RecordSuccess(CircuitPermit.Call));
        circuit.RecordFailure(CircuitPermit.Call);
        circuit.RecordFailure(CircuitPermit.Call);

        Assert.Equal(CircuitState.Closed, circuit.Snapshot().State);
        Assert.Null(new ToolCircuit(3, TimeSpan.FromSeconds(10), time).RecordSuccess(CircuitPermit.Call));
    }

    [Fact]
    public void Released_trial_can_be_taken_again()
    {
        var circuit = new ToolCircuit(1, TimeSpan.FromSeconds(10), time);
        circuit.RecordFailure(circuit.TryAcquire());
        time.Advance(TimeSpan.FromSeconds(10));
        var trial = circuit.TryAcquire();

        circuit.Release(trial);

        Assert.Equal(CircuitPermit.Trial, circuit.TryAcquire());
    }

    [Fact]
    public void Restored_open_circuit_stays_open_until_its_break_ends()
    {
        var until = time.GetUtcNow().AddSeconds(5);
        var circuit = new ToolCircuit(3, TimeSpan.FromSeconds(30), time, new CircuitSnapshot(CircuitState.Open, 3, time.GetUtcNow(), until));

        Assert.Equal(CircuitPermit.Refused, circuit.TryAcquire());
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(CircuitPermit.Trial, circuit.TryAcquire());
    }
}

[Trait("Category", "Infrastructure")]
public sealed class OwnLatenessTests
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_wake_up_that_came_late_counts_as_time_behind_from_the_start_asked_about()
    {
        using var probe = new OwnLateness(time);

        await probe.StartAsync(CancellationToken.None);
        try
        {
            // Frozen for three seconds: the wake-up asked for a tenth of a second later comes 2.9 s late (pending or
            // recorded, the same). The probe asks for its first wake-up on a thread of its own: until it has, a freeze
            // passes unnoticed, and the next one is tried.
            var start = probe.Now();
            await Poll.UntilAsync(
                async () =>
                {
                    start = probe.Now();
                    time.Advance(TimeSpan.FromSeconds(3));
                    await Task.Delay(50);
                    return probe.Since(start) > TimeSpan.Zero;
                },
                TimeSpan.FromSeconds(10),
                "a late wake-up");

            Assert.Equal(2.9, probe.Since(start).TotalSeconds, 3);

            // A window that began a second into the freeze holds two seconds of it.
            Assert.Equal(2.0, probe.Since(start + time.TimestampFrequency).TotalSeconds, 3);
            Assert.True(probe.Starved(start, out var behind));
            Assert.Equal(2.9, behind.TotalSeconds, 3);
        }
        finally
        {
            await probe.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void Recorded_lateness_over_half_of_the_window_is_starved_and_below_it_is_not()
    {
        using var probe = new OwnLateness(time);
        var start = probe.Now();
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            probe.Record(probe.Now(), TimeSpan.FromMilliseconds(40));
        }

        Assert.Equal(0.4, probe.Since(start).TotalSeconds, 3);
        Assert.False(probe.Starved(start, out _));

        probe.Record(probe.Now(), TimeSpan.FromMilliseconds(100));
        Assert.True(probe.Starved(start, out var behind));
        Assert.Equal(0.5, behind.TotalSeconds, 3);
    }
}

[Trait("Category", "Infrastructure")]
public sealed class BackoffTests
{
    [Theory]
    [InlineData(1, 100, 200)]
    [InlineData(2, 200, 400)]
    [InlineData(3, 400, 800)]
    [InlineData(10, 2500, 5000)]
    public void Delay_grows_exponentially_with_jitter_and_is_capped(int attempt, double min, double max)
    {
        var low = Backoff.Delay(attempt, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), 0);
        var high = Backoff.Delay(attempt, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), 0.999999);

        Assert.Equal(min, low.TotalMilliseconds, 3);
        Assert.InRange(high.TotalMilliseconds, max - 1, max);
    }
}

[Trait("Category", "Infrastructure")]
public sealed class OptionsTests
{
    [Fact]
    public void Defaults_are_valid()
    {
        var options = new ToolGatewayOptions();
        Assert.True(Validator.TryValidateObject(options, new ValidationContext(options), null, true));
        Assert.True(new ToolGatewayOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(TimeSpan.FromSeconds(10), options.ToolTimeout(10));
        Assert.Equal(options.DefaultToolTimeout, options.ToolTimeout(0));
        Assert.Equal(options.MaxToolTimeout, options.ToolTimeout(3600));
    }

    [Fact]
    public async Task Bad_settings_stop_the_service_at_start_naming_the_setting()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Database=unused;Username=agents;Password=agents",
            ["ConnectionStrings:RabbitMq"] = TestInfrastructure.RabbitMq,
            ["Messaging:QueuePrefix"] = TestInfrastructure.UniqueName("tgopt"),
            ["Identity:SigningKey"] = "tool-gateway-tests-signing-key-0123456789",
            ["ToolGateway:MaxAttempts"] = "0",
            ["ToolGateway:BaseDelay"] = "00:00:10",
            ["ToolGateway:MaxDelay"] = "00:00:01",
        };

        var error = await StartupFailure.OfAsync<OptionsValidationException, Program>(() => new ServiceFactory<Program>(settings));

        Assert.Contains("ToolGateway:MaxAttempts must be between 1 and 10.", error.Message, StringComparison.Ordinal);
        Assert.Contains("ToolGateway:BaseDelay", error.Message, StringComparison.Ordinal);
    }
}
