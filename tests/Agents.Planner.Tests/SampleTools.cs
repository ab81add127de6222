using Agents.Contracts;

namespace Agents.Planner.Tests;

/// <summary>Descriptors shaped like the platform's sample tools, announced to the planner in the tests.</summary>
internal static class SampleTools
{
    public static ToolDescriptor Lookup { get; } = Descriptor(
        "crm.lookup-customer",
        "Looks up a customer in the CRM by id.",
        """{"type":"object","properties":{"customerId":{"type":"string","pattern":"^C-[0-9]+$"}},"required":["customerId"],"additionalProperties":false}""",
        SideEffectClass.ReadOnly);

    public static ToolDescriptor Fetch { get; } = Descriptor(
        "web.fetch",
        "Fetches a page from an allowlist of local URLs.",
        """{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}""",
        SideEffectClass.ReadOnly);

    public static ToolDescriptor Ticket { get; } = Descriptor(
        "tickets.create",
        "Opens a support ticket.",
        """{"type":"object","properties":{"customerId":{"type":"string"},"subject":{"type":"string","maxLength":200},"body":{"type":"string"},"priority":{"type":"string","enum":["low","normal","high"]}},"required":["customerId","subject","body"]}""",
        SideEffectClass.Mutating);

    public static IReadOnlyList<ToolDescriptor> All { get; } = [Lookup, Fetch, Ticket];

    private static ToolDescriptor Descriptor(string name, string description, string input, SideEffectClass sideEffect) =>
        new(name, description, input, """{"type":"object"}""", sideEffect, RiskTier.Low, "tools:" + name, sideEffect == SideEffectClass.Mutating, name == "web.fetch", 10, "1.0.0");
}
