using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Agents.Cli;

/// <summary>How results are written: <c>text</c> (tables for people) or <c>json</c> (the API's JSON, for scripts).</summary>
internal enum OutputFormat
{
    Text,
    Json,
}

/// <summary>Writes results in the chosen format.</summary>
internal sealed class Output
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly TextWriter _out;

    public Output(TextWriter writer, TextWriter error, OutputFormat format, int width)
    {
        _out = writer;
        Error = error;
        Format = format;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        Console.Profile.Width = width;
    }

    public OutputFormat Format { get; }

    public TextWriter Error { get; }

    /// <summary>Spectre's console over the output (no colours: the output may be a file or a pipe).</summary>
    public IAnsiConsole Console { get; }

    public bool IsJson => Format == OutputFormat.Json;

    /// <summary>The API's JSON as it came (json output), else what <paramref name="text"/> writes for people; exit code 0.</summary>
    public int Show(JsonNode? body, Action text)
    {
        if (IsJson)
        {
            Json(body);
        }
        else
        {
            text();
        }

        return ExitCodes.Success;
    }

    public void Json(JsonNode? node) => _out.WriteLine(node?.ToJsonString(Indented) ?? "null");

    /// <summary>One JSON document per line (a stream of events).</summary>
    public void JsonLine(JsonNode? node) => _out.WriteLine(node?.ToJsonString() ?? "null");

    public void Line(string text) => _out.WriteLine(text);

    /// <summary>A table of <paramref name="rows"/> with the given columns (each a header and how to read it from a row).</summary>
    public void Table(IEnumerable<JsonNode?> rows, params (string Header, Func<JsonNode, string?> Read)[] columns)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var (header, _) in columns)
        {
            table.AddColumn(new TableColumn(header).NoWrap());
        }

        var count = 0;
        foreach (var row in rows)
        {
            if (row is null)
            {
                continue;
            }

            table.AddRow(columns.Select(c => new Text(c.Read(row) ?? string.Empty)).ToArray<Spectre.Console.Rendering.IRenderable>());
            count++;
        }

        if (count == 0)
        {
            _out.WriteLine("(none)");
            return;
        }

        Console.Write(table);
    }

    /// <summary>Name–value lines for one object.</summary>
    public void Fields(params (string Name, string? Value)[] fields)
    {
        var width = fields.Max(f => f.Name.Length);
        foreach (var (name, value) in fields)
        {
            _out.WriteLine($"{(name + ":").PadRight(width + 1)} {value}");
        }
    }

    public static string? Text(JsonNode? node, string path)
    {
        var current = node;
        foreach (var part in path.Split('.'))
        {
            current = current is JsonObject obj ? obj[part] : null;
        }

        return current switch
        {
            null => null,
            JsonValue value => value.ToString(),
            _ => current.ToJsonString(),
        };
    }
}
