using System.Reflection;
using System.Text.Json.Nodes;
using Agents.Contracts;
using Agents.Tools.Sdk.Schema;

namespace Agents.Tools.Sdk;

/// <summary>
/// A tool class's metadata and schemas, read from its <see cref="ToolAttribute"/> and its
/// <see cref="ITool{TInput,TOutput}"/> type arguments. Checked once, at registration.
/// </summary>
public sealed class ToolDefinition
{
    private ToolDefinition(Type toolType, ToolAttribute attribute, Type inputType, Type outputType, bool compensable)
    {
        ToolType = toolType;
        Name = attribute.Name;
        Description = attribute.Description;
        SideEffect = attribute.SideEffect;
        Risk = attribute.Risk;
        RequiredScope = attribute.Scope;
        ReturnsUntrustedContent = attribute.ReturnsUntrustedContent;
        SendsDataOut = attribute.SendsDataOut;
        Timeout = TimeSpan.FromSeconds(attribute.TimeoutSeconds);
        Version = attribute.Version ?? toolType.Assembly.GetName().Version?.ToString(3) ?? "1.0.0";
        InputType = inputType;
        OutputType = outputType;
        Compensable = compensable;
        InputSchema = ToolJson.SchemaFor(inputType);
        OutputSchema = ToolJson.SchemaFor(outputType);
        ArgumentClasses = ToolJson.MemberAttributes<ArgumentAttribute>(inputType).ToDictionary(p => p.Name, p => p.Attribute.Class, StringComparer.Ordinal);
        UntrustedOutputFields = [.. ToolJson.MemberAttributes<UntrustedContentAttribute>(outputType).Select(p => p.Name)];
    }

    /// <summary>The class implementing the tool.</summary>
    public Type ToolType { get; }

    /// <summary>The tool's name.</summary>
    public string Name { get; }

    /// <summary>What the tool does.</summary>
    public string Description { get; }

    /// <summary>The side-effect class.</summary>
    public SideEffectClass SideEffect { get; }

    /// <summary>The risk tier.</summary>
    public RiskTier Risk { get; }

    /// <summary>The scope a caller needs.</summary>
    public string RequiredScope { get; }

    /// <summary>True when the output carries outside content.</summary>
    public bool ReturnsUntrustedContent { get; }

    /// <summary>True when a call sends its arguments outside the platform.</summary>
    public bool SendsDataOut { get; }

    /// <summary>The declared class of each input argument (JSON name) that has one; the others are Control.</summary>
    public IReadOnlyDictionary<string, ArgumentClass> ArgumentClasses { get; }

    /// <summary>The output fields (JSON names) marked <see cref="UntrustedContentAttribute"/>.</summary>
    public IReadOnlyList<string> UntrustedOutputFields { get; }

    /// <summary>How long one execution may take.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The tool's version.</summary>
    public string Version { get; }

    /// <summary>The input record type.</summary>
    public Type InputType { get; }

    /// <summary>The output record type.</summary>
    public Type OutputType { get; }

    /// <summary>True when the tool implements <see cref="ICompensableTool{TInput,TOutput}"/>.</summary>
    public bool Compensable { get; }

    /// <summary>The JSON schema of the input.</summary>
    public JsonObject InputSchema { get; }

    /// <summary>The JSON schema of the output.</summary>
    public JsonObject OutputSchema { get; }

    /// <summary>The announcement's descriptor.</summary>
    public ToolDescriptor ToDescriptor() => new(
        Name,
        Description,
        InputSchema.ToJsonString(),
        OutputSchema.ToJsonString(),
        SideEffect,
        Risk,
        RequiredScope,
        Compensable,
        ReturnsUntrustedContent,
        (int)Timeout.TotalSeconds,
        Version,
        UntrustedOutputFields.Count > 0 ? UntrustedOutputFields : null,
        ArgumentClasses.Count > 0 ? ArgumentClasses : null,
        SendsDataOut);

    /// <summary>Reads and checks the definition of <typeparamref name="TTool"/>.</summary>
    /// <exception cref="InvalidOperationException">The class is not a valid tool; the message says why.</exception>
    public static ToolDefinition For<TTool>() => For(typeof(TTool));

    /// <summary>Reads and checks the definition of <paramref name="toolType"/>.</summary>
    /// <exception cref="InvalidOperationException">The class is not a valid tool; the message says why.</exception>
    public static ToolDefinition For(Type toolType)
    {
        var attribute = toolType.GetCustomAttribute<ToolAttribute>()
            ?? throw new InvalidOperationException($"{toolType.Name} has no [Tool(name, description)] attribute.");
        if (!ToolEndpoints.IsValidName(attribute.Name))
        {
            throw new InvalidOperationException($"{toolType.Name}: tool name '{attribute.Name}' is invalid: use lower-case letters, digits, '.', '-' and '_', starting with a letter, at most 64 characters.");
        }

        if (string.IsNullOrWhiteSpace(attribute.Description))
        {
            throw new InvalidOperationException($"{toolType.Name}: tool '{attribute.Name}' needs a description.");
        }

        if (string.IsNullOrWhiteSpace(attribute.Scope))
        {
            throw new InvalidOperationException($"{toolType.Name}: tool '{attribute.Name}' needs a required scope (Scope = \"area.verb\").");
        }

        if (attribute.TimeoutSeconds is < 1 or > 3600)
        {
            throw new InvalidOperationException($"{toolType.Name}: TimeoutSeconds must be between 1 and 3600, was {attribute.TimeoutSeconds}.");
        }

        if (toolType.IsAbstract || toolType.IsInterface)
        {
            throw new InvalidOperationException($"{toolType.Name} must be a concrete class.");
        }

        var tools = toolType.GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ITool<,>))
            .ToList();
        if (tools.Count != 1)
        {
            throw new InvalidOperationException($"{toolType.Name} must implement ITool<TInput, TOutput> exactly once.");
        }

        var arguments = tools[0].GetGenericArguments();
        var compensable = typeof(ICompensableTool<,>).MakeGenericType(arguments).IsAssignableFrom(toolType);
        if (compensable && attribute.SideEffect == SideEffectClass.ReadOnly)
        {
            throw new InvalidOperationException($"{toolType.Name}: a ReadOnly tool has nothing to compensate; remove ICompensableTool or change SideEffect.");
        }

        return new ToolDefinition(toolType, attribute, arguments[0], arguments[1], compensable);
    }
}
