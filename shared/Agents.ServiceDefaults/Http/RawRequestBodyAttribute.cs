namespace Agents.ServiceDefaults.Http;

/// <summary>
/// Marks endpoints whose request body is not the service's own JSON (the gateway's forwarded routes): the
/// <see cref="JsonRequestGuard"/> leaves them alone.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class RawRequestBodyAttribute : Attribute;
