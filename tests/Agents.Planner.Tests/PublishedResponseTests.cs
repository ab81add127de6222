using Agents.Contracts;
using MassTransit;
using static Agents.Planner.Tests.TestData;

namespace Agents.Planner.Tests;

[Collection(PlannerCollection.Name)]
[Trait("Category", "Infrastructure")]
public sealed class PublishedResponseTests(PlannerFixture fixture)
{
    [Fact]
    public async Task Published_CreatePlan_without_response_address_publishes_PlanCreated_and_PlanRejected_with_the_admission_it_carried()
    {
        var created = new TaskCompletionSource<PlanCreated>(TaskCreationOptions.RunContinuationsAsynchronously);
        var rejected = new TaskCompletionSource<PlanRejected>(TaskCreationOptions.RunContinuationsAsynchronously);
        var good = Template(Principal("tenant-pub"), "lookup-and-summarize", new() { ["customerId"] = "C-9" });
        var bad = Template(Principal("tenant-pub"), "missing-template", null);

        // As governance passes it on after admitting the task: the admission goes back with the answer.
        bad = bad with { Admission = new TaskAdmitted(bad.TaskId, new TaskLimits(MaxSteps: 7), ["crm.lookup-customer"]) };
        var handle = fixture.Bus.ConnectReceiveEndpoint("planner-test-observer", e =>
        {
            e.Handler<PlanCreated>(c =>
            {
                if (c.Message.TaskId == good.TaskId)
                {
                    created.TrySetResult(c.Message);
                }

                return Task.CompletedTask;
            });
            e.Handler<PlanRejected>(c =>
            {
                if (c.Message.TaskId == bad.TaskId)
                {
                    rejected.TrySetResult(c.Message);
                }

                return Task.CompletedTask;
            });
        });
        try
        {
            await handle.Ready.WaitAsync(TimeSpan.FromSeconds(20));

            // As the executor's saga does: publish, then correlate the published answer by TaskId.
            await fixture.Bus.Publish(good);
            await fixture.Bus.Publish(bad);

            var plan = await created.Task.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(3, plan.Plan.Steps.Count);
            Assert.Null(plan.Admission);
            var refusal = await rejected.Task.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal("unknown template 'missing-template'", refusal.Reason);
            Assert.Equal(7, refusal.Admission!.Limits.MaxSteps);
            Assert.Equal(["crm.lookup-customer"], refusal.Admission.AllowedTools);
        }
        finally
        {
            await handle.StopAsync();
        }
    }
}
