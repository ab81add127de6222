namespace Agents.Contracts;

/// <summary>Name patterns: <c>*</c> matches any run of characters (<c>crm.*</c>, <c>*</c>); everything else matches itself.</summary>
public static class Wildcard
{
    /// <summary>True when <paramref name="value"/> matches <paramref name="pattern"/> as a whole.</summary>
    public static bool IsMatch(string pattern, string value) => Match(pattern.AsSpan(), value.AsSpan());

    /// <summary>True when <paramref name="value"/> matches one of <paramref name="patterns"/>.</summary>
    public static bool MatchesAny(IEnumerable<string> patterns, string value) => patterns.Any(p => IsMatch(p, value));

    private static bool Match(ReadOnlySpan<char> pattern, ReadOnlySpan<char> value)
    {
        // Iterative glob match with backtracking to the last '*'.
        int p = 0, v = 0, star = -1, mark = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = v;
            }
            else if (p < pattern.Length && pattern[p] == value[v])
            {
                p++;
                v++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                v = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
