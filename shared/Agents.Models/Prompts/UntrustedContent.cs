using System.Text.RegularExpressions;

namespace Agents.Models.Prompts;

/// <summary>
/// How untrusted content (tool outputs, web pages, recalled memories) is put into a prompt: inside an
/// <c>&lt;untrusted-data …&gt;</c> element labelled as data, with anything inside it that could read as an
/// opening or closing delimiter defused. One implementation for every service that builds prompts, so
/// the containment cannot drift between them.
/// </summary>
public static partial class UntrustedContent
{
    /// <summary>The start of an opening delimiter (attributes and <c>&gt;</c> follow).</summary>
    public const string OpenTag = "<untrusted-data";

    /// <summary>The closing delimiter.</summary>
    public const string CloseTag = "</untrusted-data>";

    /// <summary>
    /// Defuses every delimiter look-alike in <paramref name="text"/> (any case, spaces around the slash) by
    /// escaping its <c>&lt;</c>; the rest of the text is kept as it was, so nothing of the data is lost.
    /// </summary>
    public static string Neutralize(string text) => DelimiterLookAlike().Replace(text, m => "&lt;" + m.Value[1..]);

    [GeneratedRegex(@"<\s*/?\s*untrusted-data", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DelimiterLookAlike();
}
