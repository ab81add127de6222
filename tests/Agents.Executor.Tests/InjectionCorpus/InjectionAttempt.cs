using System.Text.Json;

namespace Agents.Executor.Tests.InjectionCorpus;

/// <summary>
/// One injection attempt of the shared corpus (tests/Agents.Governance.Tests/InjectionCorpus/injection-corpus.json,
/// linked into this project): instructions hidden in a page, a ticket or a memory entry, and the mutating call they
/// try to cause.
/// </summary>
public sealed record InjectionAttempt(string Id, string Channel, string Text, string AttemptedTool, JsonElement AttemptedArguments)
{
    /// <summary>ReadOnly tool returning outside web content (the sample tool service's name).</summary>
    public const string PageTool = "web.fetch";

    /// <summary>ReadOnly ticket lookup; the sample tools have none, so the executor's catalog learns it from the test.</summary>
    public const string TicketTool = "tickets.lookup";

    /// <summary>ReadOnly memory search handing stored memories to a step; announced by the test like the ticket lookup.</summary>
    public const string MemoryTool = "memory.search";

    public static IReadOnlyList<InjectionAttempt> Corpus { get; } = JsonSerializer.Deserialize<List<InjectionAttempt>>(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "InjectionCorpus", "injection-corpus.json")),
        new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    public static TheoryData<string> Ids
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var attempt in Corpus)
            {
                data.Add(attempt.Id);
            }

            return data;
        }
    }

    /// <summary>The channel decides which ReadOnly tool returns the attempt's text as its (untrusted) output.</summary>
    public string SourceTool => Channel switch
    {
        "page" => PageTool,
        "ticket" => TicketTool,
        "memory" => MemoryTool,
        _ => throw new InvalidOperationException($"{Id}: unknown channel '{Channel}'."),
    };

    public static InjectionAttempt Get(string id) => Corpus.Single(a => a.Id == id);
}
