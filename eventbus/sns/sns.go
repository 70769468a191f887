// Package sns is the event bus on Amazon SNS (or an SNS-compatible server):
// each event is published to one topic, with its subject, name and tenant
// as message attributes for subscription filters. On a FIFO topic the
// conversation id is the message group (order per conversation) and the
// event id the deduplication id.
package sns

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/parleyhq/parley/eventbus"
)

// Bus publishes to one topic.
type Bus struct {
	client *awssns.Client
	topic  string
	fifo   bool
}

// IsTopicARN reports whether s is an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>).
func IsTopicARN(s string) bool {
	p := strings.Split(s, ":")
	return len(p) == 6 && p[0] == "arn" && p[2] == "sns" && p[5] != ""
}

// New builds the publisher; endpoint overrides AWS's, for compatible
// servers. Credentials come from the AWS SDK's usual sources; the region
// from the ARN.
func New(ctx context.Context, topicARN, endpoint string) (*Bus, error) {
	if !IsTopicARN(topicARN) {
		return nil, fmt.Errorf("sns: %q is not a topic ARN", topicARN)
	}
	region := strings.Split(topicARN, ":")[3]
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithDefaultRegion(region))
	if err != nil {
		return nil, fmt.Errorf("sns: load AWS configuration: %w", err)
	}
	client := awssns.NewFromConfig(cfg, func(o *awssns.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return &Bus{client: client, topic: topicARN, fifo: strings.HasSuffix(topicARN, ".fifo")}, nil
}

// Publish sends one message and waits for SNS to accept it.
func (b *Bus) Publish(ctx context.Context, m eventbus.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	in := &awssns.PublishInput{
		TopicArn: aws.String(b.topic),
		Message:  aws.String(string(m.Data)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"subject":  {DataType: aws.String("String"), StringValue: aws.String(m.Subject)},
			"event_id": {DataType: aws.String("String"), StringValue: aws.String(m.ID)},
		},
	}
	if b.fifo {
		in.MessageGroupId, in.MessageDeduplicationId = aws.String(m.ConversationID), aws.String(m.ID)
	}
	_, err := b.client.Publish(ctx, in)
	return err
}

// Close releases nothing: the SDK's client needs no closing.
func (b *Bus) Close() {}
