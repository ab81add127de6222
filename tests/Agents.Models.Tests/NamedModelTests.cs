using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agents.Models.Tests;

[Trait("Category", "Unit")]
public sealed class NamedModelTests
{
    [Fact]
    public async Task A_named_model_is_built_from_its_own_settings_with_the_pipeline_and_kept()
    {
        using var host = TestHost.Build(new Dictionary<string, string?>
        {
            ["Models:Named:short:Model"] = "short-model",
            ["Models:Named:short:MaxOutputTokens"] = "4",
            ["Models:Named:remote:Provider"] = "OpenAI",
            ["Models:Named:remote:Endpoint"] = "http://127.0.0.1:8000/v1",
            ["Models:Named:remote:Model"] = "big-model",
            ["Models:Prices:short-model:InputPerMillion"] = "1000",
            ["Models:Prices:short-model:OutputPerMillion"] = "1000",
        });
        var named = host.Services.GetRequiredService<NamedChatClients>();

        var client = named.Get("short")!;
        var response = await client.GetResponseAsync("Describe the platform in a long and detailed paragraph with many facts: 1, 2, 3.");

        Assert.Equal(["remote", "short"], named.Names);
        Assert.Same(client, named.Get("short"));
        Assert.Equal("big-model", named.Get("remote")!.GetService<ChatClientMetadata>()?.DefaultModelId);
        Assert.Equal(("big-model", "short-model"), (named.ModelIdOf("remote"), named.ModelIdOf("short")));
        var usage = response.GetModelUsage()!;
        Assert.Equal("short-model", usage.Model);
        Assert.True(usage.OutputTokens <= 4, $"{usage.OutputTokens} output tokens");
        Assert.True(usage.Cost > 0);
        Assert.Null(named.Get("missing"));
        Assert.Null(named.ModelIdOf("missing"));
    }

    [Fact]
    public void A_named_model_with_bad_settings_fails_when_first_used_and_names_the_setting()
    {
        using var host = TestHost.Build(new Dictionary<string, string?> { ["Models:Named:broken:Provider"] = "OpenAI" });
        var named = host.Services.GetRequiredService<NamedChatClients>();

        var error = Assert.Throws<InvalidOperationException>(() => named.Get("broken"));

        Assert.Contains("Models:Named:broken:Endpoint is required when Provider is OpenAI.", error.Message, StringComparison.Ordinal);
    }
}
