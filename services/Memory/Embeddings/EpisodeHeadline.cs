using System.Text;

namespace Agents.Memory.Embeddings;

/// <summary>
/// What the model embeds of an episode: its words, from the start of its text. An episode's result is often tool
/// output in JSON, and the model's word-piece tokenizer makes every brace, quote, colon, comma and escape a word
/// piece of its own: in a benchmark episode they were a third of the word pieces embedded, and the model's cost grows
/// with each. The headline keeps the words (keys and values alike, so <c>"plan":"free"</c> reads <c>plan free</c>),
/// replaces JSON's punctuation and escapes with spaces, folds runs of white space into one, and stops at
/// <c>Memory:Embedder:EpisodeHeadlineCharacters</c> characters. Commas and colons inside prose stay.
/// </summary>
public static class EpisodeHeadline
{
    /// <summary>How much of an episode's text is read to fill a headline of <paramref name="characters"/> (JSON at most about halves it).</summary>
    public static int SourceCharacters(int characters) => characters * 2;

    /// <summary>The headline of <paramref name="text"/>, at most <paramref name="characters"/> characters long.</summary>
    public static string Of(string text, int characters)
    {
        var headline = new StringBuilder(Math.Min(characters, text.Length));
        var pendingSpace = false;
        for (var i = 0; i < text.Length && headline.Length < characters; i++)
        {
            var c = text[i];
            if (c == '\\' && i + 1 < text.Length && text[i + 1] is 'n' or 'r' or 't' or 'b' or 'f' or '"' or '\\' or '/' or 'u')
            {
                // A JSON escape: \n, \t, \" and the like are separators here; \uXXXX is skipped whole (a cut one to the end).
                i += text[i + 1] == 'u' ? Math.Min(5, text.Length - 1 - i) : 1;
                pendingSpace = true;
                continue;
            }

            if (char.IsWhiteSpace(c) || c is '{' or '}' or '[' or ']' or '"' || (c is ':' or ',' && IsStructural(text, i)))
            {
                pendingSpace = true;
                continue;
            }

            // The separating space and the character (both halves of a surrogate pair: never half a character) fit, or it ends here.
            var space = pendingSpace && headline.Length > 0;
            if (headline.Length + (space ? 1 : 0) + (char.IsHighSurrogate(c) ? 2 : 1) > characters)
            {
                break;
            }

            if (space)
            {
                headline.Append(' ');
            }

            pendingSpace = false;
            headline.Append(c);
        }

        return headline.ToString();
    }

    // A colon or comma between JSON tokens: right after a closing quote, brace or bracket, or right before an opening one.
    private static bool IsStructural(string text, int i) =>
        (i > 0 && text[i - 1] is '"' or '}' or ']') || (i + 1 < text.Length && text[i + 1] is '"' or '{' or '[');
}
