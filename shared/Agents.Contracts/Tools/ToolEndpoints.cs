namespace Agents.Contracts;

/// <summary>
/// Addressing convention for tool services: each tool consumes <see cref="ExecuteTool"/> on its own
/// queue, named <c>tool-&lt;name&gt;</c> (after the optional environment prefix). Tool names are lower-case
/// letters, digits, '.', '-' and '_' (e.g. <c>crm.lookup-customer</c>).
/// </summary>
public static class ToolEndpoints
{
    /// <summary>The queue name for <paramref name="toolName"/>, with the bus's queue prefix (may be null).</summary>
    public static string QueueName(string toolName, string? queuePrefix) =>
        string.IsNullOrEmpty(queuePrefix) ? "tool-" + toolName : queuePrefix + "-tool-" + toolName;

    /// <summary>The send address (<c>queue:</c>) of <see cref="QueueName"/>.</summary>
    public static Uri QueueAddress(string toolName, string? queuePrefix) => new("queue:" + QueueName(toolName, queuePrefix));

    /// <summary>True when <paramref name="toolName"/> follows the naming rule.</summary>
    public static bool IsValidName(string? toolName) =>
        !string.IsNullOrEmpty(toolName) && toolName.Length <= 64 && char.IsAsciiLetterLower(toolName[0])
        && toolName.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_');
}
