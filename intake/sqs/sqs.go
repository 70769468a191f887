// Package sqs reads Follow-Up Requests from an Amazon SQS queue (or any
// SQS-compatible server) with long polling, ten messages a call, and hands
// each batch to the follow-up service in one transaction; a message is
// deleted only after that commit (README, "Integrations").
package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/parleyhq/parley/followup"
)

// Acceptor takes a batch of queued requests in one transaction;
// *followup.Service is one.
type Acceptor interface {
	AcceptQueued(ctx context.Context, source string, batch []followup.QueuedRequest) ([]followup.QueueOutcome, error)
}

// Config says which queue to read.
type Config struct {
	QueueURL string // https://sqs.<region>.amazonaws.com/<account>/<name>
	// Endpoint overrides the SQS endpoint, for SQS-compatible servers.
	Endpoint string
	// WaitTime is the long-polling wait of one receive (at most 20 s).
	WaitTime time.Duration
}

// Consumer reads one queue.
//
// A message is deleted once the batch that holds it has committed, so a
// process that dies between the two leaves it to SQS to redeliver, and the
// receipt recorded with it makes the copy a no-op. A batch that fails to
// commit is not deleted: its messages come back after the queue's
// visibility timeout. A malformed message goes to the dead-letter queue
// named by the queue's redrive policy, with the reason as an attribute.
type Consumer struct {
	client   *awssqs.Client
	queueURL string
	dlqURL   string // "" when the queue has no redrive policy
	source   string
	wait     int32
	acc      Acceptor
	log      *slog.Logger
}

// keepMalformed is how long a malformed message stays hidden when there is
// no dead-letter queue to move it to: it is kept, not lost, and logged again
// each time it comes back. SQS refuses a visibility that would end more than
// 12 hours after the receipt, so this stays a little under.
const keepMalformed = 12*time.Hour - 5*time.Minute

// New connects to the queue and reads its redrive policy. Credentials and
// the region come from the AWS SDK's usual sources (AWS_REGION,
// AWS_ACCESS_KEY_ID…, shared config, an instance role); the region defaults
// to the one in the queue's host name.
func New(ctx context.Context, cfg Config, acc Acceptor, log *slog.Logger) (*Consumer, error) {
	u, err := url.Parse(cfg.QueueURL)
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("sqs: %q is not a queue URL", cfg.QueueURL)
	}
	opts := []func(*awsconfig.LoadOptions) error{}
	if r := regionOf(u.Host); r != "" {
		opts = append(opts, awsconfig.WithDefaultRegion(r))
	} else {
		opts = append(opts, awsconfig.WithDefaultRegion("us-east-1"))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqs: load AWS configuration: %w", err)
	}
	client := awssqs.NewFromConfig(awsCfg, func(o *awssqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	wait := cfg.WaitTime
	if wait <= 0 || wait > 20*time.Second {
		wait = 20 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := u.Path[strings.LastIndexByte(u.Path, '/')+1:]
	c := &Consumer{client: client, queueURL: cfg.QueueURL, source: "sqs:" + name, wait: int32(wait / time.Second), acc: acc, log: log.With("source", "sqs:"+name)}
	if err := c.readRedrivePolicy(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// regionOf reads the region from sqs.<region>.amazonaws.com.
func regionOf(host string) string {
	parts := strings.Split(host, ".")
	if len(parts) >= 4 && parts[0] == "sqs" && parts[2] == "amazonaws" {
		return parts[1]
	}
	return ""
}

// Source names the queue in receipts, events and metrics.
func (c *Consumer) Source() string { return c.source }

func (c *Consumer) readRedrivePolicy(ctx context.Context) error {
	out, err := c.client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(c.queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		return fmt.Errorf("sqs: read the queue's attributes: %w", err)
	}
	policy := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if policy == "" {
		c.log.WarnContext(ctx, "the follow-up queue has no redrive policy: malformed requests stay on it, hidden for 12 h at a time")
		return nil
	}
	var rp struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	if err := json.Unmarshal([]byte(policy), &rp); err != nil || rp.DeadLetterTargetArn == "" {
		return fmt.Errorf("sqs: the queue's redrive policy %q names no dead-letter queue", policy)
	}
	// arn:aws:sqs:<region>:<account>:<name>
	arn := strings.Split(rp.DeadLetterTargetArn, ":")
	if len(arn) != 6 {
		return fmt.Errorf("sqs: dead-letter target %q is not an SQS queue ARN", rp.DeadLetterTargetArn)
	}
	dlq, err := c.client.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(arn[5]), QueueOwnerAWSAccountId: aws.String(arn[4])})
	if err != nil {
		return fmt.Errorf("sqs: find the dead-letter queue %s: %w", arn[5], err)
	}
	c.dlqURL = aws.ToString(dlq.QueueUrl)
	return nil
}

// Run receives and hands over batches until ctx ends. A failed batch is
// left to come back after the visibility timeout; Run waits a little
// longer each time the queue or the database keeps failing.
func (c *Consumer) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		if err := c.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			d := min(time.Duration(1<<min(failures-1, 6))*500*time.Millisecond, 30*time.Second)
			c.log.WarnContext(ctx, "follow-up queue: batch failed, its messages will be redelivered", "err", err, "retry_in", d)
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
			continue
		}
		failures = 0
	}
	return nil
}

// Poll receives one batch (waiting up to the long-polling time for it)
// and settles each of its messages.
func (c *Consumer) Poll(ctx context.Context) error {
	out, err := c.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(c.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: c.wait,
	})
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	batch := make([]followup.QueuedRequest, len(out.Messages))
	for i, m := range out.Messages {
		batch[i] = followup.QueuedRequest{MessageID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body))}
	}
	outcomes, err := c.acc.AcceptQueued(ctx, c.source, batch)
	if err != nil {
		return err // not deleted: SQS redelivers the whole batch
	}
	var done []types.DeleteMessageBatchRequestEntry
	var errs []error
	for i, m := range out.Messages {
		if outcomes[i].Outcome == followup.QueueMalformed {
			if err := c.deadLetter(ctx, m, outcomes[i].Reason); err != nil {
				errs = append(errs, err)
				continue
			}
			if c.dlqURL == "" {
				continue
			}
		}
		done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(done) > 0 {
		del, err := c.client.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.queueURL), Entries: done})
		if err != nil {
			errs = append(errs, fmt.Errorf("delete: %w", err))
		} else {
			for _, f := range del.Failed {
				// Taken in already: a redelivery will find its receipt.
				errs = append(errs, fmt.Errorf("delete message %s: %s", aws.ToString(f.Id), aws.ToString(f.Message)))
			}
		}
	}
	return errors.Join(errs...)
}

// deadLetter moves a malformed message to the dead-letter queue with its
// reason, or, without one, hides it for keepMalformed.
func (c *Consumer) deadLetter(ctx context.Context, m types.Message, reason string) error {
	id := aws.ToString(m.MessageId)
	if c.dlqURL == "" {
		c.log.ErrorContext(ctx, "malformed follow-up request kept on the queue (no dead-letter queue configured)", "message_id", id, "reason", reason)
		_, err := c.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(c.queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(keepMalformed / time.Second)})
		return err
	}
	_, err := c.client.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl: aws.String(c.dlqURL), MessageBody: m.Body,
		MessageAttributes: map[string]types.MessageAttributeValue{
			"parley_reason":     {DataType: aws.String("String"), StringValue: aws.String(reason)},
			"parley_message_id": {DataType: aws.String("String"), StringValue: aws.String(id)},
		},
	})
	if err != nil {
		return fmt.Errorf("move message %s to the dead-letter queue: %w", id, err)
	}
	c.log.WarnContext(ctx, "malformed follow-up request moved to the dead-letter queue", "message_id", id, "reason", reason)
	return nil
}
