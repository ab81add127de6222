using System.ComponentModel.DataAnnotations;
using Agents.Contracts;
using Agents.ServiceDefaults.Identity;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Agents.ServiceDefaults.Tests;

[Trait("Category", "Unit")]
public sealed class PrincipalLifetimeTests
{
    private const string Key = "principal-lifetime-tests-key-0123456789";

    private static readonly AgentPrincipal Alice = new("demo", "alice", ["agent-user"]);

    [Fact]
    public void A_principal_signed_for_longer_than_the_services_accept_is_refused()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var longLived = new PrincipalSigner(Options.Create(new IdentityOptions { SigningKey = Key, Lifetime = TimeSpan.FromDays(3650), MaxAcceptedLifetime = TimeSpan.FromDays(3650) }), time);
        var service = new PrincipalSigner(Options.Create(new IdentityOptions { SigningKey = Key, MaxAcceptedLifetime = TimeSpan.FromMinutes(15) }), time);

        var refused = service.Verify(longLived.Sign(Alice), out var error);

        Assert.Null(refused);
        Assert.Contains("Identity:MaxAcceptedLifetime", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_principal_within_the_limit_is_accepted_until_it_expires()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var gateway = new PrincipalSigner(Options.Create(new IdentityOptions { SigningKey = Key, Lifetime = TimeSpan.FromMinutes(15), MaxAcceptedLifetime = TimeSpan.FromMinutes(15) }), time);
        var service = new PrincipalSigner(Options.Create(new IdentityOptions { SigningKey = Key, MaxAcceptedLifetime = TimeSpan.FromMinutes(15) }), time);
        var token = gateway.Sign(Alice);

        Assert.Equal("alice", service.Verify(token, out _)?.UserId);
        time.Advance(TimeSpan.FromMinutes(16));
        Assert.Null(service.Verify(token, out var error));
        Assert.Contains("expired", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lifetime_longer_than_the_accepted_one_is_a_configuration_error()
    {
        var options = new IdentityOptions { SigningKey = Key, Lifetime = TimeSpan.FromHours(1), MaxAcceptedLifetime = TimeSpan.FromMinutes(15) };

        var results = new List<ValidationResult>();
        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true));
        Assert.Contains(results, r => r.ErrorMessage!.Contains("Identity:MaxAcceptedLifetime", StringComparison.Ordinal));
    }
}
