# ME-GraphAU (ResNet-50) predicting AU intensity beside occurrence: the
# deployed stage-2 model with a NodeIntensityHead reading each AU's final node
# (bounded regression, 5 sigmoid(s)), trained with ME-GraphAU's own losses
# (weighted asymmetric + 0.05 x edge) plus the intensity MSE. Occurrence and
# intensity together (task 'both'): the edges are learnt from which AUs
# co-occur and the cosine classifier is a probability, so the graph keeps its
# occurrence head. Stage 1 is megraphau_r50_stage1, unchanged; the intensity
# head starts fresh in stage 2. On DISFA: its 8 protocol AUs; on BP4D the
# FERA 2015 five: --cfg-options "model.aus=(6, 10, 12, 14, 17)".
_base_ = ['./megraphau_r50.py']

model = dict(intensity_head=dict(type='NodeIntensityHead', kind='regression'))
task = 'both'
loss = dict(_delete_=True, type='OccurrenceIntensityLoss',
            occurrence=dict(type='MEGraphAULoss', edge_weight=0.05, eps=1e-8),
            intensity=dict(type='IntensityMSELoss', scale=5.0), intensity_weight=1.0)
val_evaluator = [dict(type='AUMetric'), dict(type='AUIntensityMetric')]
select_by = 'icc_mean'
