using System.ComponentModel.DataAnnotations;

namespace Agents.ServiceDefaults.Identity;

/// <summary>
/// The key shared by the gateway (which signs the principal it forwards) and the services (which
/// verify it). Section <c>Identity</c>.
/// </summary>
public sealed class IdentityOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Identity";

    /// <summary>HMAC-SHA256 key, at least 32 characters. Keep it in a secret store in production.</summary>
    [Required(ErrorMessage = "Identity:SigningKey is missing. Set the same secret (32+ characters) on the gateway and every service.")]
    [MinLength(32, ErrorMessage = "Identity:SigningKey must be at least 32 characters long.")]
    public string SigningKey { get; set; } = string.Empty;

    /// <summary>How long a signed principal stays valid after the gateway signs it.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The longest remaining lifetime a service accepts in a signed principal: one that expires later than this from now
    /// is refused, so a leaked principal (or one signed with a stolen key for years) is of use for minutes only.
    /// At least <see cref="Lifetime"/>.
    /// </summary>
    public TimeSpan MaxAcceptedLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Lifetime <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Identity:Lifetime must be positive.", [nameof(Lifetime)]);
        }

        if (MaxAcceptedLifetime < Lifetime)
        {
            yield return new ValidationResult(
                $"Identity:MaxAcceptedLifetime ({MaxAcceptedLifetime}) must be at least Identity:Lifetime ({Lifetime}), or the services would refuse the gateway's own principals.",
                [nameof(MaxAcceptedLifetime)]);
        }
    }
}
