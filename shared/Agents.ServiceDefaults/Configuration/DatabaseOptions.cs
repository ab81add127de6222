using Microsoft.Extensions.Options;

namespace Agents.ServiceDefaults.Configuration;

/// <summary>The service's own PostgreSQL database (<c>ConnectionStrings:Postgres</c>).</summary>
public sealed class DatabaseOptions
{
    /// <summary>The connection string, bound from <see cref="ConnectionStrings.PostgresKey"/>.</summary>
    public string? ConnectionString { get; set; }
}

internal sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var error = ConnectionStrings.ValidatePostgres(options.ConnectionString);
        return error is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(error);
    }
}
