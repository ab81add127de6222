using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Agents.Contracts;
using Agents.Tools.Crm.Data;
using Agents.Tools.Sdk;
using Microsoft.EntityFrameworkCore;

namespace Agents.Tools.Crm;

/// <summary>Arguments of <c>crm.lookup-customer</c>.</summary>
public sealed record LookupCustomerInput(
    [Description("The customer's id, e.g. C-1001.")]
    [RegularExpression("^C-[0-9]{4,8}$", ErrorMessage = "customerId must look like 'C-1001'.")]
    string CustomerId);

/// <summary>A customer as the CRM knows it.</summary>
public sealed record CustomerRecord(
    string Id,
    string Name,
    string Email,
    [Description("Subscription plan: free, pro or enterprise.")] string Plan,
    string Region,
    DateOnly CustomerSince,
    [Description("Titles of the customer's open support issues, as the customer wrote them (untrusted).")][UntrustedContent] IReadOnlyList<string> OpenIssues);

/// <summary>
/// Looks up a customer of the caller's tenant. The record is the CRM's own data (trusted), except the open issues'
/// titles, which customers write (<see cref="UntrustedContentAttribute"/>).
/// </summary>
[Tool("crm.lookup-customer", "Looks up a customer of the caller's tenant by id: name, e-mail, plan, region and open support issues.",
    SideEffect = SideEffectClass.ReadOnly, Risk = RiskTier.Low, Scope = "crm.read", TimeoutSeconds = 10)]
public sealed class LookupCustomer(CrmDbContext db) : ITool<LookupCustomerInput, CustomerRecord>
{
    /// <inheritdoc />
    public async Task<CustomerRecord> ExecuteAsync(LookupCustomerInput input, ToolContext context, CancellationToken cancellationToken)
    {
        var tenant = context.Principal.TenantId;
        var customer = await db.Customers.AsNoTracking()
            .SingleOrDefaultAsync(c => c.TenantId == tenant && c.Id == input.CustomerId, cancellationToken)
            ?? throw new ToolException($"No customer '{input.CustomerId}' in tenant '{tenant}'.", transient: false);
        return new CustomerRecord(customer.Id, customer.Name, customer.Email, customer.Plan, customer.Region, customer.CustomerSince, customer.OpenIssues);
    }
}
