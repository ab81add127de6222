using System.Diagnostics;
using Agents.Contracts;
using Agents.Executor.StateMachines;
using Agents.Executor.Telemetry;
using Agents.Models;
using Agents.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agents.Executor.Consumers;

/// <summary>
/// The executor's model worker: runs one model step on the "executor" chat client (<c>Models:Executor</c>, see
/// Agents.Models), or on the model the step names (<c>Models:Named:{name}</c>), with bounded output tokens and answers with <see cref="ModelStepCompleted"/> (tokens and cost from
/// the response's <see cref="ModelUsage"/>). The call's tokens and cost are reserved from the user's and the tenant's
/// daily budgets first (<see cref="ReserveModelBudget"/>): the saga sends the step by way of governance, which attaches its
/// answer (<see cref="RunModelStep.Reservation"/>); a step without one (or with "retry later", or redelivered) is asked for
/// here. The output is capped at what was granted; a refusal is answered without calling the model, and governance that
/// cannot be asked fails the attempt (fail closed). A failed model call is an answer too (the saga decides about retries); only shutdown aborts.
/// Its endpoint has no inbox (<see cref="ConfigureEndpoint"/>): no database transaction stays open during the call.
/// </summary>
public sealed class ModelStepConsumer(
    [FromKeyedServices(ModelStepConsumer.ChatClientKey)] IChatClient chat,
    IRequestClient<ReserveModelBudget> budgets,
    ModelStepPrice price,
    IOptions<ExecutorOptions> options,
    TimeProvider time,
    ILogger<ModelStepConsumer> logger,
    NamedChatClients? named = null) : IConsumer<RunModelStep>
{
    public const string ChatClientKey = ModelRoles.Executor;

    /// <summary>
    /// Configures the model worker's queue by hand, without the inbox that the durable-messaging library puts in front
    /// of every other endpoint: a model call may take long, and redelivery after a crash only repeats the call (the saga
    /// takes the first answer of an attempt; governance gives the same reservation again, or a new one if the first run has reported).
    /// </summary>
    public static void ConfigureEndpoint(IBusRegistrationContext context, IBusFactoryConfigurator cfg) =>
        cfg.ReceiveEndpoint(context.GetRequiredService<ExecutorEndpoints>().ModelWorkerQueue, e => e.ConfigureConsumer<ModelStepConsumer>(context));

    public async Task Consume(ConsumeContext<RunModelStep> context)
    {
        var message = context.Message;
        using var activity = ExecutorTelemetry.StartModelStep(message.TaskId, message.StepId);
        var started = time.GetTimestamp();
        var maxOutputTokens = Math.Clamp(message.MaxOutputTokens, 1, options.Value.MaxOutputTokens);
        // Governance's answer came with the step (the saga sent it by way of the reservation), unless it says "retry later"
        // or this is a redelivery: a step run again after its first run may have reported asks afresh, as governance then
        // reserves anew for the second call rather than letting it ride on a settled reservation.
        var (reservation, unavailable) = message.Reservation is { RetryLater: false } attached && !context.ReceiveContext.Redelivered
            ? (attached, null)
            : await ReserveWaitingAsync(message, context.CancellationToken);
        ModelStepCompleted answer;
        if (unavailable is not null)
        {
            // Governance may still commit a reservation it could not answer in time: the usage report (of nothing)
            // names the call, so that such a reservation is given back rather than left charged.
            activity?.SetStatus(ActivityStatusCode.Error, unavailable);
            answer = Failed(message, unavailable, started, reserved: true);
        }
        else if (!reservation!.Granted)
        {
            activity?.SetStatus(ActivityStatusCode.Error, reservation.Reason);
            answer = Failed(message, null, started, reserved: false) with
            {
                Refusal = reservation.Reason ?? "governance refused the model call",
                BudgetExhausted = reservation.BudgetExhausted,
            };
        }
        else
        {
            answer = await CallModelAsync(message, Math.Clamp(reservation.MaxOutputTokens, 1, maxOutputTokens), started, activity, context.CancellationToken);
        }

        activity?.SetTag("gen_ai.usage.input_tokens", answer.InputTokens);
        activity?.SetTag("gen_ai.usage.output_tokens", answer.OutputTokens);
        await context.RespondAsync(answer);
    }

    private async Task<ModelStepCompleted> CallModelAsync(RunModelStep message, int maxOutputTokens, long started, Activity? activity, CancellationToken cancellationToken)
    {
        IChatClient? client;
        try
        {
            client = message.Model is not { } name ? chat
                : named is not null && named.Allows(name, message.Principal.TenantId) ? named.Get(name)
                : null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "The named model {Model} could not be built", message.Model);
            return Failed(message, $"The model '{message.Model}' is configured with invalid settings: {ex.Message}", started, reserved: true) with { Permanent = true };
        }

        if (client is null)
        {
            return Failed(message, NamedModels.Unavailable(message.Model!, message.Principal.TenantId), started, reserved: true) with { Permanent = true };
        }

        try
        {
            var response = await client.GetResponseAsync(
                [new ChatMessage(ChatRole.System, message.SystemPrompt), new ChatMessage(ChatRole.User, message.Prompt)],
                new ChatOptions { MaxOutputTokens = maxOutputTokens },
                cancellationToken);
            // The models library attaches usage and cost to every response of a role's client; a client built
            // without its pipeline (none in the service) falls back to the provider's token counts at no cost.
            var usage = response.GetModelUsage();
            var cost = usage?.Cost ?? 0m;
            var model = usage?.Model ?? response.ModelId;
            return new ModelStepCompleted(
                message.TaskId,
                message.StepId,
                message.Attempt,
                true,
                response.Text,
                null,
                model,
                (int)(usage?.InputTokens ?? response.Usage?.InputTokenCount ?? 0),
                (int)(usage?.OutputTokens ?? response.Usage?.OutputTokenCount ?? 0),
                cost,
                time.GetElapsedTime(started).TotalMilliseconds,
                Reserved: true);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Model step {StepId} of task {TaskId} failed", message.StepId, message.TaskId);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            return Failed(message, ex.Message, started, reserved: true);
        }
    }

    /// <summary>
    /// Asks again (backing off from 250 ms to 2 s) while governance answers "retry later" because the day's room is held
    /// by other calls in flight, for at most <see cref="ExecutorOptions.BudgetWait"/>; then that answer counts as a budget refusal.
    /// Wall-clock time: this waits on another service, not on the task's clock.
    /// </summary>
    private async Task<(ModelBudgetReservation? Answer, string? Unavailable)> ReserveWaitingAsync(RunModelStep message, CancellationToken cancellationToken)
    {
        var request = Reservation(message, price, options.Value);
        var waited = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            var (answer, unavailable, askAgain) = await ReserveAsync(request, cancellationToken);
            if (askAgain && waited.Elapsed < options.Value.BudgetReservationPatience)
            {
                // Governance is slow or restarting: wait it out. Asking again for the same call returns the same
                // reservation, so a request it answers late charges the day only once.
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
                continue;
            }

            if (answer is not { RetryLater: true })
            {
                return (answer, unavailable);
            }

            if (waited.Elapsed >= options.Value.BudgetWait)
            {
                var reason = $"budget exhausted: {answer.Reason} (waited {waited.Elapsed.TotalSeconds:0.#} s, Executor:BudgetWait)";
                return (answer with { RetryLater = false, BudgetExhausted = true, Reason = reason }, null);
            }

            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }

    /// <summary>
    /// The budget reservation <paramref name="step"/> needs: its estimated input tokens, its output tokens within
    /// <see cref="ExecutorOptions.MaxOutputTokens"/>, the current model's prices. The saga sends it with the step inside
    /// (<see cref="ReserveModelBudget.ThenRun"/>); the worker asks with it when the step came without an answer.
    /// </summary>
    public static ReserveModelBudget Reservation(RunModelStep step, ModelStepPrice price, ExecutorOptions options)
    {
        var modelPrice = price.For(step.Model);
        return new ReserveModelBudget(
            step.TaskId,
            new ModelCallRef(step.StepId, step.Attempt),
            step.Principal,
            StepInputs.EstimateInputTokens(step.SystemPrompt, step.Prompt),
            Math.Clamp(step.MaxOutputTokens, 1, options.MaxOutputTokens),
            modelPrice?.InputPerMillion ?? 0m,
            modelPrice?.OutputPerMillion ?? 0m);
    }

    /// <summary>Governance's answer, or why it could not be had (and whether asking again may get one).</summary>
    private async Task<(ModelBudgetReservation? Answer, string? Unavailable, bool AskAgain)> ReserveAsync(ReserveModelBudget request, CancellationToken cancellationToken)
    {
        var timeout = options.Value.BudgetReservationTimeout;
        var answer = await budgets.AskAsync<ReserveModelBudget, ModelBudgetReservation>(request, RequestTimeout.After(ms: (int)timeout.TotalMilliseconds), cancellationToken);
        if (answer.Failure == RequestFailure.Unreachable)
        {
            logger.LogWarning(answer.Exception, "Budget reservation for model step {StepId} of task {TaskId} failed", request.Call.StepId, request.TaskId);
        }

        var patience = options.Value.BudgetReservationPatience.TotalSeconds;
        return answer.Failure switch
        {
            RequestFailure.None => (answer.Message, null, false),
            RequestFailure.TimedOut => (null, $"governance did not reserve budget for the model call within {patience:0.###} s (Executor:BudgetReservationPatience); not called (fail closed)", true),
            RequestFailure.Faulted => (null, "governance failed to reserve budget for the model call (" + answer.Error + "); not called (fail closed)", false),
            _ => (null, "governance could not be asked to reserve budget for the model call (" + answer.Error + "); not called (fail closed)", true),
        };
    }

    private ModelStepCompleted Failed(RunModelStep message, string? error, long started, bool reserved) =>
        new(message.TaskId, message.StepId, message.Attempt, false, null, error, null, 0, 0, 0m, time.GetElapsedTime(started).TotalMilliseconds, reserved);
}
