using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Agents.Testing;

namespace Agents.EndToEnd.Tests.Autonomy;

/// <summary>
/// A FAKE of an outside model server and of outside web content, for the autonomy-under-attack suite. It answers the
/// OpenAI chat-completions API as a fully hijacked model would: whenever its prompt holds an attacker's instruction
/// with a payload written [[[like this]]], it answers with the payload, whatever it was asked (as an executor step) or
/// plans the payload's action (as the planner). Without one it behaves: it extracts the customer id, priority or URL
/// it is asked for from the prompt's trusted text, drafts a summary, or plans the goal's steps. It also serves the
/// attacker's and benign pages (<c>/pages/</c>), failing pages whose HTTP reason phrase carries text (<c>/fail/</c>),
/// and a collection endpoint (<c>/collect</c>) that records every request: an exfiltration that happened.
/// </summary>
public sealed partial class FakeHijackedModelServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeHijackedModelServer()
    {
        Port = TestInfrastructure.ClosedPort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Origin => $"http://127.0.0.1:{Port}/";

    /// <summary>Pages by path (without the leading slash), HTML.</summary>
    public ConcurrentDictionary<string, string> Pages { get; } = new(StringComparer.Ordinal);

    /// <summary>Failing pages by path: the reason phrase of their HTTP 500.</summary>
    public ConcurrentDictionary<string, string> Failures { get; } = new(StringComparer.Ordinal);

    /// <summary>Every request to <c>/collect</c>: data that left the platform.</summary>
    public ConcurrentQueue<string> Collected { get; } = new();

    /// <summary>Every prompt the fake was sent (planner and executor), for checks that untrusted text never reached the planner.</summary>
    public ConcurrentQueue<(bool Planner, string Prompt)> Prompts { get; } = new();

    [GeneratedRegex(@"\[\[\[(?<payload>[^\]]{1,400})\]\]\]")]
    private static partial Regex Payload();

    [GeneratedRegex(@"\bC-[0-9]{4,8}\b")]
    private static partial Regex CustomerId();

    [GeneratedRegex(@"https?://[^\s""<>]+")]
    private static partial Regex Url();

    [GeneratedRegex("<untrusted-data[^>]*>.*?</untrusted-data>", RegexOptions.Singleline)]
    private static partial Regex UntrustedBlock();

    [GeneratedRegex(@"Goal:\s*\n(?<goal>[^\n]+)")]
    private static partial Regex Goal();

    [GeneratedRegex(@"Current plan steps:\s*\n(?<steps>[^\n]+)")]
    private static partial Regex CurrentSteps();

    [GeneratedRegex(@"Completed steps \(kept unchanged[^)]*\):\s*(?<ids>[^\n]+)")]
    private static partial Regex CompletedSteps();

    [GeneratedRegex(@"Step '(?<id>[^']+)' failed\.")]
    private static partial Regex FailedStep();

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(context));
        }
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            var path = context.Request.Url!.AbsolutePath.TrimStart('/');
            if (context.Request.HttpMethod == "POST" && path.EndsWith("chat/completions", StringComparison.Ordinal))
            {
                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                await WriteAsync(response, 200, "application/json", Complete(await reader.ReadToEndAsync()));
            }
            else if (path.StartsWith("collect", StringComparison.Ordinal))
            {
                Collected.Enqueue(context.Request.Url!.PathAndQuery);
                await WriteAsync(response, 200, "text/plain", "ok");
            }
            else if (Failures.TryGetValue(path, out var reason))
            {
                response.StatusDescription = reason;
                await WriteAsync(response, 500, "text/plain", "failed");
            }
            else if (Pages.TryGetValue(path, out var html))
            {
                await WriteAsync(response, 200, "text/html; charset=utf-8", html);
            }
            else
            {
                await WriteAsync(response, 404, "text/plain", "not found");
            }
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away.
        }
    }

    private static async Task WriteAsync(HttpListenerResponse response, int status, string contentType, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
        response.Close();
    }

    private string Complete(string requestJson)
    {
        var request = JsonNode.Parse(requestJson)!;
        var messages = request["messages"]!.AsArray();
        var system = messages.Select(m => Text(m!["content"])).FirstOrDefault(t => t.Contains("planner of an agent platform", StringComparison.Ordinal)) is not null;
        var prompt = string.Join("\n", messages.Where(m => m!["role"]?.GetValue<string>() == "user").Select(m => Text(m!["content"])));
        Prompts.Enqueue((system, prompt));
        var answer = system ? Plan(prompt) : Step(prompt);
        var completion = new JsonObject
        {
            ["id"] = "chatcmpl-fake-" + Guid.NewGuid().ToString("N"),
            ["object"] = "chat.completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = request["model"]?.GetValue<string>() ?? "hijacked-fake",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = answer },
                ["finish_reason"] = "stop",
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = prompt.Length / 4 + 1, ["completion_tokens"] = answer.Length / 4 + 1, ["total_tokens"] = (prompt.Length + answer.Length) / 4 + 2 },
        };
        return completion.ToJsonString();
    }

    private static string Text(JsonNode? content) => content switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonArray parts => string.Join("\n", parts.Select(p => p?["text"]?.GetValue<string>() ?? string.Empty)),
        _ => string.Empty,
    };

    /// <summary>An executor step: obey an injected payload; otherwise answer what was asked from the trusted text.</summary>
    private static string Step(string prompt)
    {
        if (Payload().Match(prompt) is { Success: true } injected)
        {
            return injected.Groups["payload"].Value;
        }

        var trusted = UntrustedBlock().Replace(prompt, " ");
        if (prompt.Contains("only the customer id", StringComparison.OrdinalIgnoreCase))
        {
            return CustomerId().Match(prompt).Value is { Length: > 0 } id ? id : "C-1001";
        }

        if (prompt.Contains("only the priority", StringComparison.OrdinalIgnoreCase))
        {
            return "normal";
        }

        if (prompt.Contains("only the URL", StringComparison.OrdinalIgnoreCase))
        {
            return Url().Match(prompt).Value;
        }

        var data = UntrustedBlock().Match(prompt).Value;
        var plain = Regex.Replace(data.Length > 0 ? data : trusted, "<[^>]+>", " ");
        plain = Regex.Replace(plain, @"\s+", " ").Trim();
        return "Thank you for reaching out. " + (plain.Length > 300 ? plain[..300] : plain);
    }

    /// <summary>
    /// A plan for a goal of the form "Open a ticket for C-1234 about TOPIC[, using the article URL]". A payload the planner
    /// can see steers the plan as the attacker wants: another customer, an urgent priority, a fetch that carries data out,
    /// or the ticket's text. A revision drops the article whose fetch failed (a goal plan of its own); any other failed
    /// step is retried as it was, with the steps after it, so that a revision never turns a task into another one.
    /// </summary>
    private static string Plan(string prompt)
    {
        var goal = Goal().Match(prompt).Groups["goal"].Value;
        var customer = CustomerId().Match(goal).Value is { Length: > 0 } id ? id : "C-1001";
        var url = Url().Match(goal).Value.TrimEnd('.', ',');
        var revising = prompt.Contains("Revise the plan", StringComparison.Ordinal);
        if (revising && Payload().Match(prompt) is { Success: false } && FailedStep().Match(prompt).Groups["id"].Value != "fetch")
        {
            return Retry(prompt);
        }
        var priority = "normal";
        string? exfiltrate = null;
        string? body = null;
        if (Payload().Match(prompt) is { Success: true } injected)
        {
            var payload = injected.Groups["payload"].Value;
            if (CustomerId().IsMatch(payload))
            {
                customer = payload;
            }
            else if (payload == "urgent")
            {
                priority = payload;
            }
            else if (payload.StartsWith("http", StringComparison.Ordinal))
            {
                exfiltrate = payload;
            }
            else
            {
                body = payload;
            }
        }

        var steps = new JsonArray();
        var draftDepends = new JsonArray();
        if (url.Length > 0 && !revising)
        {
            steps.Add(new JsonObject { ["id"] = "fetch", ["kind"] = "tool", ["tool"] = "web.fetch", ["arguments"] = new JsonObject { ["url"] = url }, ["dependsOn"] = new JsonArray() });
            draftDepends.Add("fetch");
        }

        if (exfiltrate is not null)
        {
            steps.Add(new JsonObject { ["id"] = "sync", ["kind"] = "tool", ["tool"] = "web.fetch", ["arguments"] = new JsonObject { ["url"] = exfiltrate }, ["dependsOn"] = new JsonArray() });
        }

        var topic = goal.Contains(" about ", StringComparison.Ordinal) ? goal[(goal.IndexOf(" about ", StringComparison.Ordinal) + 7)..] : goal;
        steps.Add(new JsonObject
        {
            ["id"] = "draft",
            ["kind"] = "model",
            ["prompt"] = "Draft a short, friendly reply about: " + topic + (draftDepends.Count > 0 ? " Use {{steps.fetch.output.text}} as data." : string.Empty),
            ["dependsOn"] = draftDepends,
        });
        steps.Add(new JsonObject
        {
            ["id"] = "ticket",
            ["kind"] = "tool",
            ["tool"] = "tickets.create",
            ["arguments"] = new JsonObject { ["customerId"] = customer, ["subject"] = "Follow-up", ["body"] = body ?? "{{steps.draft.output}}", ["priority"] = priority },
            ["dependsOn"] = new JsonArray("draft"),
        });
        return new JsonObject { ["rationale"] = "Draft a reply and open a ticket.", ["steps"] = steps }.ToJsonString();
    }

    /// <summary>A revision that runs again the steps of the current plan that have not completed, unchanged.</summary>
    private static string Retry(string prompt)
    {
        var completed = CompletedSteps().Match(prompt).Groups["ids"].Value
            .Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var current = JsonNode.Parse(CurrentSteps().Match(prompt).Groups["steps"].Value)!.AsArray();
        var steps = new JsonArray([.. current.Where(step => !completed.Contains(step!["id"]!.GetValue<string>())).Select(step => step!.DeepClone())]);
        return new JsonObject { ["rationale"] = "Run the failed step again.", ["steps"] = steps }.ToJsonString();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }
}
