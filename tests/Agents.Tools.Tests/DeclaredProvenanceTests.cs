using Agents.Contracts;
using Agents.Tools.Crm;
using Agents.Tools.Sdk;
using Agents.Tools.Tickets;
using Agents.Tools.Web;

namespace Agents.Tools.Tests;

/// <summary>What the sample tools declare about provenance, as the SDK announces it from their attributes.</summary>
[Trait("Category", "Unit")]
public sealed class DeclaredProvenanceTests
{
    [Fact]
    public void The_crm_record_is_trusted_except_the_issue_titles_customers_write()
    {
        var descriptor = ToolDefinition.For<LookupCustomer>().ToDescriptor();

        Assert.False(descriptor.ReturnsUntrustedContent);
        Assert.Equal(["openIssues"], descriptor.UntrustedOutputFields);
        Assert.False(descriptor.SendsDataOut);
        Assert.Null(descriptor.ArgumentClasses);
    }

    [Fact]
    public void A_tickets_subject_and_body_are_data_and_its_customer_and_priority_steer_it()
    {
        var descriptor = ToolDefinition.For<CreateTicket>().ToDescriptor();

        Assert.Equal(
            new Dictionary<string, ArgumentClass> { ["subject"] = ArgumentClass.Data, ["body"] = ArgumentClass.Data },
            descriptor.ArgumentClasses);
        Assert.DoesNotContain("customerId", descriptor.ArgumentClasses!.Keys);
        Assert.Null(descriptor.UntrustedOutputFields);
    }

    [Fact]
    public void Fetching_a_url_sends_data_out_and_its_url_steers_it()
    {
        var descriptor = ToolDefinition.For<WebFetch>().ToDescriptor();

        Assert.True(descriptor.SendsDataOut);
        Assert.True(descriptor.ReturnsUntrustedContent);
        Assert.Null(descriptor.ArgumentClasses);
    }
}
